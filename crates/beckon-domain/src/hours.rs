//! Operating hours: when a queue takes chats, as weekly opening times in a time zone.
//!
//! `{"time_zone": "Europe/Paris", "weekly": [{"day": "mon", "open": "09:00", "close": "17:30"}, …]}`
//! — several ranges per day are allowed (a lunch break), `close` may be `24:00`. Local times are
//! turned into instants with the time zone's rules (daylight saving included), so "09:00 in
//! Paris" is right in winter and in summer. A queue without hours is always open.

use crate::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperatingHours {
    /// IANA time zone name, e.g. `Europe/Paris`.
    pub time_zone: String,
    pub weekly: Vec<DayRange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayRange {
    /// `mon` … `sun`.
    pub day: String,
    /// `HH:MM`, local time.
    pub open: String,
    /// `HH:MM` after `open`; `24:00` for midnight at the end of the day.
    pub close: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("unknown time zone {0:?}; use an IANA name such as Europe/Paris")]
    TimeZone(String),
    #[error("weekly[{0}].day must be mon, tue, wed, thu, fri, sat or sun")]
    Day(usize),
    #[error("weekly[{0}]: times are HH:MM and close must be after open")]
    Times(usize),
    #[error("at most 50 opening ranges")]
    TooMany,
}

/// Open now, or when next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub open: bool,
    /// When it next opens (`None` when open now, or never).
    pub opens_at: Option<Timestamp>,
    /// When the current (or next) opening ends.
    pub closes_at: Option<Timestamp>,
}

fn weekday(day: &str) -> Option<Weekday> {
    Some(match day.to_ascii_lowercase().as_str() {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    })
}

/// Minutes since local midnight; `24:00` is 1440.
fn minutes(hhmm: &str) -> Option<i32> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    let ok = (0..=24).contains(&h)
        && (0..60).contains(&m)
        && (h < 24 || m == 0)
        && h.to_string().len() <= 2
        && m < 60;
    ok.then_some(h * 60 + m)
}

impl OperatingHours {
    pub fn validate(&self) -> Result<(), HoursError> {
        crate::time_zone::TimeZoneName::parse(&self.time_zone)
            .map_err(|_| HoursError::TimeZone(self.time_zone.clone()))?;
        if self.weekly.len() > 50 {
            return Err(HoursError::TooMany);
        }
        for (i, r) in self.weekly.iter().enumerate() {
            weekday(&r.day).ok_or(HoursError::Day(i))?;
            match (minutes(&r.open), minutes(&r.close)) {
                (Some(o), Some(c)) if o < c => {}
                _ => return Err(HoursError::Times(i)),
            }
        }
        Ok(())
    }

    /// Whether open at `at`, and the next opening and closing. Invalid hours count as closed.
    pub fn status(&self, at: Timestamp) -> Status {
        let closed = Status { open: false, opens_at: None, closes_at: None };
        let Ok(tz) = TimeZone::get(&self.time_zone) else { return closed };
        let Ok(now) = jiff::Timestamp::from_millisecond(at.0) else { return closed };
        let today = now.to_zoned_datetime(tz.clone()).date();
        // Every opening from yesterday (a range may still run) to eight days ahead, as instants.
        let mut ranges: Vec<(i64, i64)> = Vec::new();
        for offset in -1..=8 {
            let Ok(date) = today.checked_add(jiff::Span::new().days(offset)) else { continue };
            for r in self.weekly.iter().filter(|r| weekday(&r.day) == Some(date.weekday())) {
                if let (Some(o), Some(c)) = (minutes(&r.open), minutes(&r.close))
                    && let (Some(start), Some(end)) = (instant(&tz, date, o), instant(&tz, date, c))
                {
                    ranges.push((start, end));
                }
            }
        }
        ranges.sort_unstable();
        // Merge touching ranges (e.g. 18:00–24:00 then 00:00–02:00 the next day).
        let mut merged: Vec<(i64, i64)> = Vec::new();
        for (s, e) in ranges {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let t = at.0;
        if let Some(&(_, e)) = merged.iter().find(|(s, e)| *s <= t && t < *e) {
            return Status { open: true, opens_at: None, closes_at: Some(Timestamp(e)) };
        }
        match merged.iter().find(|(s, _)| *s > t) {
            Some(&(s, e)) => {
                Status { open: false, opens_at: Some(Timestamp(s)), closes_at: Some(Timestamp(e)) }
            }
            None => closed,
        }
    }
}

/// The instant of a local wall-clock time (`minutes` after midnight, 1440 = next midnight).
fn instant(tz: &TimeZone, date: Date, minutes: i32) -> Option<i64> {
    let (date, minutes) =
        if minutes >= 1440 { (date.tomorrow().ok()?, minutes - 1440) } else { (date, minutes) };
    let time = Time::new((minutes / 60) as i8, (minutes % 60) as i8, 0, 0).ok()?;
    let zoned = date.to_datetime(time).to_zoned_datetime(tz.clone()).ok()?;
    Some(zoned.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp(s.parse::<jiff::Timestamp>().unwrap().as_millisecond())
    }

    fn paris_office() -> OperatingHours {
        let r = |day: &str, open: &str, close: &str| DayRange {
            day: day.into(),
            open: open.into(),
            close: close.into(),
        };
        OperatingHours {
            time_zone: "Europe/Paris".into(),
            weekly: ["mon", "tue", "wed", "thu", "fri"]
                .iter()
                .flat_map(|d| [r(d, "09:00", "12:30"), r(d, "13:30", "18:00")])
                .collect(),
        }
    }

    #[test]
    fn open_and_closed_in_local_time_through_daylight_saving() {
        let h = paris_office();
        h.validate().unwrap();
        // Monday 2026-01-05 (winter, UTC+1): 09:00 Paris is 08:00 UTC.
        assert!(!h.status(ts("2026-01-05T07:59:00Z")).open);
        let open = h.status(ts("2026-01-05T08:00:00Z"));
        assert_eq!((open.open, open.closes_at), (true, Some(ts("2026-01-05T11:30:00Z"))));
        // Lunch break.
        let lunch = h.status(ts("2026-01-05T12:00:00Z"));
        assert_eq!((lunch.open, lunch.opens_at), (false, Some(ts("2026-01-05T12:30:00Z"))));
        // Monday 2026-07-06 (summer, UTC+2): 09:00 Paris is 07:00 UTC.
        assert!(h.status(ts("2026-07-06T07:00:00Z")).open);
        assert!(!h.status(ts("2026-07-06T06:59:00Z")).open);
        // Friday evening → next Monday morning.
        let weekend = h.status(ts("2026-01-09T18:00:00Z"));
        assert_eq!((weekend.open, weekend.opens_at), (false, Some(ts("2026-01-12T08:00:00Z"))));
    }

    #[test]
    fn ranges_across_midnight_and_validation() {
        let r = |day: &str, open: &str, close: &str| DayRange {
            day: day.into(),
            open: open.into(),
            close: close.into(),
        };
        let late = OperatingHours {
            time_zone: "UTC".into(),
            weekly: vec![r("mon", "18:00", "24:00"), r("tue", "00:00", "02:00")],
        };
        late.validate().unwrap();
        let s = late.status(ts("2026-01-05T23:59:00Z"));
        assert_eq!((s.open, s.closes_at), (true, Some(ts("2026-01-06T02:00:00Z"))), "merged across midnight");
        assert_eq!(
            OperatingHours { time_zone: "Mars/Olympus".into(), weekly: vec![] }.validate(),
            Err(HoursError::TimeZone("Mars/Olympus".into()))
        );
        assert_eq!(
            OperatingHours { time_zone: "UTC".into(), weekly: vec![r("moon", "09:00", "10:00")] }.validate(),
            Err(HoursError::Day(0))
        );
        for (o, c) in [("10:00", "09:00"), ("9am", "10:00"), ("24:30", "25:00"), ("09:60", "10:00")] {
            assert_eq!(
                OperatingHours { time_zone: "UTC".into(), weekly: vec![r("mon", o, c)] }.validate(),
                Err(HoursError::Times(0)),
                "{o}-{c}"
            );
        }
        let never = OperatingHours { time_zone: "UTC".into(), weekly: vec![] };
        assert_eq!(
            never.status(ts("2026-01-05T12:00:00Z")),
            Status { open: false, opens_at: None, closes_at: None }
        );
    }
}
