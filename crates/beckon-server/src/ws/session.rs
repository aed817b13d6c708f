//! The socket loop shared by visitor and agent sessions.
//!
//! One task per socket runs one `select!` over: frames from the client, events from the hub
//! (the session's bounded inbox), a ping timer, the hub's "you are too slow" signal and server
//! shutdown. The loop is generic over any `Sink + Stream` of WebSocket messages, so it is tested
//! with in-memory channels, no network. What a frame or event *means* is the [`Handler`]'s job.
//!
//! Guarantees: a client that sends nothing (not even a pong) for `idle_timeout` is closed; a
//! write that does not complete within `write_timeout` ends the session; a full inbox (the hub
//! kills the inbox) ends it; on shutdown the client gets close code 1001 and reconnects elsewhere.
//! A client sending faster than `frames_per_second` (beyond a burst of `frame_burst`) gets
//! `rate_limited` errors for the extra frames, which are not processed; the socket stays open.

use crate::config::WsSettings;
use crate::hub::Registration;
use crate::ws::frames::Out;
use axum::extract::ws::{CloseFrame, Message};
use beckon_domain::events::Envelope;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use std::future::Future;
use std::time::Duration;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

/// What a handler wants sent back: frames, and possibly a close.
#[derive(Default)]
pub struct Replies {
    pub frames: Vec<String>,
    pub close: Option<(u16, &'static str)>,
}

impl Replies {
    pub fn send(&mut self, frame: &Out<'_>, rid: Option<&str>) {
        self.frames.push(frame.to_text(rid));
    }
    pub fn error(&mut self, code: &str, message: &str, rid: Option<&str>) {
        self.send(&Out::Error { code, message }, rid);
    }
}

pub trait Handler: Send {
    /// Runs once before the loop (e.g. to send a welcome).
    fn on_start(&mut self, _out: &mut Replies) -> impl Future<Output = ()> + Send {
        async {}
    }
    fn on_text(&mut self, text: &str, out: &mut Replies) -> impl Future<Output = ()> + Send;
    fn on_event(&mut self, envelope: &Envelope, out: &mut Replies) -> impl Future<Output = ()> + Send;
    /// A moment by which something must have happened (e.g. `hello`): at it, [`on_deadline`]
    /// runs. Asked again after every frame and event.
    ///
    /// [`on_deadline`]: Handler::on_deadline
    fn deadline(&self) -> Option<Instant> {
        None
    }
    fn on_deadline(&mut self, _out: &mut Replies) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// Runs at every ping interval (e.g. to check that the user's rights still hold).
    fn on_tick(&mut self, _out: &mut Replies) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// Runs once when the session ends, however it ends.
    fn on_end(&mut self) -> impl Future<Output = ()> + Send;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    ClientClosed,
    Idle,
    TooSlow,
    Shutdown,
    WriteFailed,
    HandlerClosed,
}

/// How long a connection closed for a protocol error (1009, 1007) is held before it is dropped.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// A read error that the protocol answers with a close code before dropping the connection.
pub trait ReadError {
    /// `(code, reason)`: 1009 for a frame over the size limit, 1007 for text that is not UTF-8.
    fn close_code(self) -> Option<(u16, &'static str)>;
}

impl ReadError for axum::Error {
    fn close_code(self) -> Option<(u16, &'static str)> {
        use tungstenite::Error as E;
        match self.into_inner().downcast::<E>().ok().map(|e| *e) {
            Some(E::Capacity(_)) => Some((1009, "frame too large")),
            Some(E::Utf8(_)) => Some((1007, "text is not UTF-8")),
            _ => None,
        }
    }
}

impl ReadError for std::io::Error {
    fn close_code(self) -> Option<(u16, &'static str)> {
        None
    }
}

pub async fn run<S, E, H>(
    socket: &mut S,
    reg: Registration,
    handler: &mut H,
    cfg: &WsSettings,
    shutdown: CancellationToken,
) -> Ended
where
    S: Sink<Message> + Stream<Item = Result<Message, E>> + Send + Unpin,
    E: ReadError,
    H: Handler,
{
    // The socket is borrowed, not moved in, so that the caller's task holds it once (a moved
    // argument keeps its slot in the caller's future as well). It is not split into halves:
    // reads happen only inside `select!` and writes only outside it, so one `&mut` does, and an
    // idle socket saves the split's shared allocation.
    let write_timeout = Duration::from_secs(cfg.write_timeout_secs);
    let idle_timeout = Duration::from_secs(cfg.idle_timeout_secs);
    let ping_every = Duration::from_secs(cfg.ping_interval_secs.max(1));
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    let mut last_heard = Instant::now();
    let mut out = Replies::default();
    let mut bucket = TokenBucket::new(cfg.frames_per_second, cfg.frame_burst);
    // Handler futures are boxed: they are large (they hold store and bus calls), and inline they
    // would make every idle socket's task as large as the busiest moment of any handler.
    Box::pin(handler.on_start(&mut out)).await;

    let ended = loop {
        if let Some(ended) = flush(&mut *socket, &mut out, write_timeout).await {
            break ended;
        }
        let deadline = handler.deadline();
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => {
                close(&mut *socket, 1001, "server restarting", write_timeout).await;
                break Ended::Shutdown;
            }
            _ = until(deadline) => {
                Box::pin(handler.on_deadline(&mut out)).await;
                if out.close.is_none() {
                    out.close = Some((1008, "deadline"));
                }
            }
            incoming = socket.next() => {
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        last_heard = Instant::now();
                        if bucket.take(last_heard) {
                            Box::pin(handler.on_text(text.as_str(), &mut out)).await;
                        } else {
                            let rid = crate::ws::frames::rid_of(text.as_str());
                            out.error("rate_limited", "too many frames; slow down", rid.as_deref());
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        last_heard = Instant::now();
                        out.error("binary_not_supported", "send JSON in text frames", None);
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => last_heard = Instant::now(),
                    Some(Err(e)) => {
                        if let Some((code, reason)) = e.close_code() {
                            close(&mut *socket, code, reason, write_timeout).await;
                            // The rest of the offending frame is still unread: dropping the
                            // connection now makes the kernel answer with a reset, which can
                            // reach the client before the close frame does (it then never learns
                            // why). Hold the connection (without reading: a frame over the limit
                            // must not be buffered) while the close frame travels.
                            tokio::time::sleep(CLOSE_LINGER.min(write_timeout)).await;
                        }
                        break Ended::ClientClosed;
                    }
                    Some(Ok(Message::Close(_))) | None => break Ended::ClientClosed,
                }
            }
            next = reg.inbox.next() => match next {
                Some(envelope) => Box::pin(handler.on_event(&envelope, &mut out)).await,
                None => {
                    close(&mut *socket, 1008, "client too slow", write_timeout).await;
                    break Ended::TooSlow;
                }
            },
            _ = ping.tick() => {
                if last_heard.elapsed() >= idle_timeout {
                    close(&mut *socket, 1000, "idle", write_timeout).await;
                    break Ended::Idle;
                }
                Box::pin(handler.on_tick(&mut out)).await;
                if out.close.is_some() {
                    continue;
                }
                if !matches!(timeout(write_timeout, socket.send(Message::Ping(Default::default()))).await, Ok(Ok(()))) {
                    break Ended::WriteFailed;
                }
            }
        }
    };
    Box::pin(handler.on_end()).await;
    ended
}

/// Boxed, so that an idle socket's task (whose handler has no deadline) does not carry a timer.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => Box::pin(tokio::time::sleep_until(at)).await,
        None => std::future::pending().await,
    }
}

/// Frames a client may send: `rate` per second on average, `burst` at once.
struct TokenBucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    at: Instant,
}

impl TokenBucket {
    fn new(rate: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self { tokens: burst, rate: f64::from(rate), burst, at: Instant::now() }
    }

    fn take(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

async fn flush<K: Sink<Message> + Unpin>(sink: &mut K, out: &mut Replies, limit: Duration) -> Option<Ended> {
    if out.frames.is_empty() && out.close.is_none() {
        return None;
    }
    for frame in out.frames.drain(..) {
        // `feed` queues without flushing, so a burst of frames goes out in one write.
        if !matches!(timeout(limit, sink.feed(Message::Text(frame.into()))).await, Ok(Ok(()))) {
            return Some(Ended::WriteFailed);
        }
    }
    if let Some((code, reason)) = out.close.take() {
        close(sink, code, reason, limit).await;
        return Some(Ended::HandlerClosed);
    }
    match timeout(limit, sink.flush()).await {
        Ok(Ok(())) => None,
        _ => Some(Ended::WriteFailed),
    }
}

async fn close<K: Sink<Message> + Unpin>(sink: &mut K, code: u16, reason: &'static str, limit: Duration) {
    let frame = CloseFrame { code, reason: reason.into() };
    let _ = timeout(limit, sink.send(Message::Close(Some(frame)))).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Hub;
    use beckon_domain::events::{Event, Topic};
    use beckon_domain::{AgentId, Presence};
    use futures_channel::mpsc;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Echoes text frames; turns events into a frame; counts `on_end` calls.
    struct Echo(Arc<AtomicUsize>);
    impl Handler for Echo {
        async fn on_text(&mut self, text: &str, out: &mut Replies) {
            out.frames.push(format!("echo:{text}"));
        }
        async fn on_event(&mut self, _: &Envelope, out: &mut Replies) {
            out.frames.push("event".into());
        }
        async fn on_end(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// An in-memory socket: what the test sends arrives as client frames; what the session
    /// writes goes to `written`.
    struct Duplex {
        incoming: mpsc::UnboundedReceiver<Result<Message, std::io::Error>>,
        written: mpsc::Sender<Message>,
    }
    impl Stream for Duplex {
        type Item = Result<Message, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            self.incoming.poll_next_unpin(cx)
        }
    }
    impl Sink<Message> for Duplex {
        type Error = mpsc::SendError;
        fn poll_ready(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            self.written.poll_ready(cx)
        }
        fn start_send(mut self: std::pin::Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
            self.written.start_send(item)
        }
        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            self.written.poll_flush_unpin(cx)
        }
        fn poll_close(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            self.written.poll_close_unpin(cx)
        }
    }

    fn duplex(
        write_capacity: usize,
    ) -> (Duplex, mpsc::UnboundedSender<Result<Message, std::io::Error>>, mpsc::Receiver<Message>) {
        let (in_tx, in_rx) = mpsc::unbounded();
        let (out_tx, out_rx) = mpsc::channel(write_capacity);
        (Duplex { incoming: in_rx, written: out_tx }, in_tx, out_rx)
    }

    fn cfg() -> WsSettings {
        WsSettings {
            ping_interval_secs: 10,
            idle_timeout_secs: 30,
            write_timeout_secs: 5,
            ..WsSettings::default()
        }
    }

    #[tokio::test]
    async fn answers_frames_and_ends_when_the_client_closes() {
        let hub = Hub::new(Arc::new(beckon_bus::InProcessBus::new()));
        let (mut socket, client, mut written) = duplex(16);
        let ends = Arc::new(AtomicUsize::new(0));
        let mut h = Echo(ends.clone());
        let reg = hub.register(4);
        let task =
            tokio::spawn(
                async move { run(&mut socket, reg, &mut h, &cfg(), CancellationToken::new()).await },
            );
        client.unbounded_send(Ok(Message::Text("hi".into()))).unwrap();
        assert_eq!(written.next().await.unwrap(), Message::Text("echo:hi".into()));
        client.unbounded_send(Ok(Message::Binary(vec![0xff, 0xfe].into()))).unwrap();
        let Message::Text(t) = written.next().await.unwrap() else { panic!() };
        assert!(t.as_str().contains("binary_not_supported"));
        drop(client);
        assert_eq!(task.await.unwrap(), Ended::ClientClosed);
        assert_eq!(ends.load(Ordering::SeqCst), 1);
        assert_eq!(hub.session_count(), 0, "the registration is dropped with the session");
    }

    #[tokio::test(start_paused = true)]
    async fn pings_then_closes_a_silent_client() {
        let hub = Hub::new(Arc::new(beckon_bus::InProcessBus::new()));
        let (mut socket, _client, mut written) = duplex(16);
        let mut h = Echo(Arc::default());
        let reg = hub.register(4);
        let task =
            tokio::spawn(
                async move { run(&mut socket, reg, &mut h, &cfg(), CancellationToken::new()).await },
            );
        // Time is paused: tokio advances it straight to each timer.
        assert!(matches!(written.next().await.unwrap(), Message::Ping(_)));
        assert!(matches!(written.next().await.unwrap(), Message::Ping(_)));
        assert!(matches!(written.next().await.unwrap(), Message::Close(Some(f)) if f.code == 1000));
        assert_eq!(task.await.unwrap(), Ended::Idle);
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_is_disconnected_not_buffered() {
        let hub = Hub::new(Arc::new(beckon_bus::InProcessBus::new()));
        // The "network" takes one frame and then nothing more: the client stopped reading.
        let (mut socket, _client, _written) = duplex(0);
        let mut h = Echo(Arc::default());
        let reg = hub.register(4);
        let id = reg.id;
        hub.subscribe(id, Topic::Agent(AgentId(1))).await;
        let task =
            tokio::spawn(
                async move { run(&mut socket, reg, &mut h, &cfg(), CancellationToken::new()).await },
            );
        let ev = Arc::new(Envelope::new(
            vec![Topic::Agent(AgentId(1))],
            Event::Presence {
                org_id: beckon_domain::OrgId(1),
                agent_id: AgentId(1),
                presence: Presence::Busy,
            },
        ));
        for _ in 0..20 {
            hub.deliver(&ev);
            tokio::task::yield_now().await;
        }
        let ended = task.await.unwrap();
        assert!(matches!(ended, Ended::TooSlow | Ended::WriteFailed), "{ended:?}");
        assert_eq!(hub.session_count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_frames_is_rate_limited_and_the_socket_survives() {
        let hub = Hub::new(Arc::new(beckon_bus::InProcessBus::new()));
        let (mut socket, client, mut written) = duplex(1024);
        let mut h = Echo(Arc::default());
        let reg = hub.register(4);
        let cfg = WsSettings { frames_per_second: 10, frame_burst: 5, ..cfg() };
        let task =
            tokio::spawn(async move { run(&mut socket, reg, &mut h, &cfg, CancellationToken::new()).await });
        for i in 0..8 {
            client.unbounded_send(Ok(Message::Text(format!(r#"{{"rid":"{i}"}}"#).into()))).unwrap();
        }
        let mut replies = Vec::new();
        for _ in 0..8 {
            let Message::Text(t) = written.next().await.unwrap() else { panic!() };
            replies.push(t.to_string());
        }
        assert!(replies[..5].iter().all(|r| r.starts_with("echo:")), "{replies:?}");
        assert!(replies[5..].iter().all(|r| r.contains("rate_limited")), "{replies:?}");
        // A tenth of a second later, one more frame is allowed.
        tokio::time::advance(Duration::from_millis(100)).await;
        client.unbounded_send(Ok(Message::Text("again".into()))).unwrap();
        assert_eq!(written.next().await.unwrap(), Message::Text("echo:again".into()));
        drop(client);
        assert_eq!(task.await.unwrap(), Ended::ClientClosed);
    }

    #[tokio::test]
    async fn shutdown_closes_with_going_away() {
        let hub = Hub::new(Arc::new(beckon_bus::InProcessBus::new()));
        let (mut socket, _client, mut written) = duplex(16);
        let mut h = Echo(Arc::default());
        let stop = CancellationToken::new();
        let reg = hub.register(4);
        let s = stop.clone();
        let task = tokio::spawn(async move { run(&mut socket, reg, &mut h, &cfg(), s).await });
        stop.cancel();
        assert!(matches!(written.next().await.unwrap(), Message::Close(Some(f)) if f.code == 1001));
        assert_eq!(task.await.unwrap(), Ended::Shutdown);
    }
}
