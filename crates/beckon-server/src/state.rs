//! The one state struct every handler receives (cheap to clone: everything is behind `Arc`).

use crate::chat::Chat;
use crate::config::Settings;
use crate::hub::Hub;
use beckon_domain::model::Widget;
use beckon_domain::{Clock, WidgetId};
use beckon_store::Store;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub hub: Arc<Hub>,
    pub chat: Arc<Chat>,
    pub timers: Arc<crate::timers::Timers>,
    pub live: Arc<crate::live::LiveVisitors>,
    pub triggers: Arc<crate::triggers::Triggers>,
    /// Live visitors and the trigger runtime's views across every node.
    pub cluster: Arc<crate::cluster_view::ClusterView>,
    pub geoip: Arc<crate::geoip::GeoIp>,
    pub visitor_auth: Arc<crate::visitor_auth::VisitorAuth>,
    pub widgets: Arc<SharedWidgets>,
    pub limits: Arc<crate::limits::Limits>,
    /// New visitors not stored yet (they have done nothing so far).
    pub new_visitors: Arc<crate::new_visitors::NewVisitors>,
    /// Cancelled when the server shuts down; every socket and background task watches it.
    pub shutdown: CancellationToken,
    /// Serving the demo site (`beckon demo`).
    pub demo_mode: bool,
    /// The URL this server is reached at (from settings, or derived from the bound address).
    pub public_url: Arc<str>,
}

/// One copy of each widget for all the visitor sessions that hold it, instead of one per socket.
///
/// A session still reads its widget from the store on `hello` (so an admin's change applies to
/// the next connection at once); the copy it keeps is the shared one whenever that is identical.
#[derive(Default)]
pub struct SharedWidgets(Mutex<HashMap<WidgetId, Arc<Widget>>>);

impl SharedWidgets {
    /// The shared copy of `fresh`: the one already held if identical, else `fresh`, which becomes
    /// the shared copy from now on.
    pub fn share(&self, fresh: Widget) -> Arc<Widget> {
        let mut all = self.0.lock();
        match all.get(&fresh.id) {
            Some(held) if **held == fresh => held.clone(),
            _ => {
                let fresh = Arc::new(fresh);
                all.insert(fresh.id, fresh.clone());
                fresh
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_domain::model::WidgetSettings;
    use beckon_domain::{OrgId, Timestamp, WidgetKey};

    fn widget(name: &str) -> Widget {
        Widget {
            id: WidgetId(1),
            org_id: OrgId(1),
            key: WidgetKey::parse("widget-1").expect("key"),
            name: name.into(),
            allowed_origins: vec!["*".into()],
            default_queue_id: None,
            settings: WidgetSettings::default(),
            auth: None,
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn identical_widgets_share_one_copy_and_a_changed_one_replaces_it() {
        let shared = SharedWidgets::default();
        let a = shared.share(widget("Shop"));
        let b = shared.share(widget("Shop"));
        assert!(Arc::ptr_eq(&a, &b));
        let c = shared.share(widget("Shop (renamed)"));
        assert_eq!(c.name, "Shop (renamed)");
        assert!(Arc::ptr_eq(&c, &shared.share(widget("Shop (renamed)"))));
    }
}
