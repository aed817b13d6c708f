//! A real SMTP server on loopback for tests of email: it accepts what Beckon sends over an
//! actual SMTP conversation (`mailin-embedded`) and keeps each email for the test to read.
//! Recipients whose address starts with `refused` get a permanent 550, `later` a 451: the two
//! failures the sender must tell apart.

use mailin_embedded::response::{INTERNAL_ERROR, NO_MAILBOX, OK};
use mailin_embedded::{Handler, Response, Server};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One email as the server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The whole message: headers, blank line, body (as sent: quoted-printable or 7-bit).
    pub data: String,
}

impl Mail {
    /// The body, decoded from the transfer encoding lettre chose.
    pub fn body(&self) -> String {
        let (headers, body) = self.data.split_once("\r\n\r\n").unwrap_or(("", &self.data));
        let text = if headers.to_ascii_lowercase().contains("content-transfer-encoding: quoted-printable") {
            let bytes =
                quoted_printable::decode(body, quoted_printable::ParseMode::Robust).expect("robust mode");
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            body.to_owned()
        };
        text.replace("\r\n", "\n")
    }

    /// A header's value (first occurrence, case-insensitive name).
    pub fn header(&self, name: &str) -> Option<String> {
        let headers = self.data.split_once("\r\n\r\n").map_or("", |(h, _)| h);
        let prefix = format!("{}:", name.to_ascii_lowercase());
        headers
            .split("\r\n")
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    }
}

#[derive(Default)]
struct Inbox {
    mails: Mutex<Vec<Mail>>,
    arrived: tokio::sync::Notify,
}

#[derive(Clone)]
struct Collect {
    inbox: Arc<Inbox>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collect {
    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, from: &str) -> Response {
        self.from = from.to_owned();
        self.to.clear();
        self.data.clear();
        OK
    }
    fn rcpt(&mut self, to: &str) -> Response {
        if to.starts_with("refused") {
            return NO_MAILBOX;
        }
        if to.starts_with("later") {
            return INTERNAL_ERROR;
        }
        self.to.push(to.to_owned());
        OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        let mail = Mail {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            data: String::from_utf8_lossy(&std::mem::take(&mut self.data)).into_owned(),
        };
        self.inbox.mails.lock().unwrap().push(mail);
        self.inbox.arrived.notify_waiters();
        OK
    }
}

/// The running server; it serves until the test process ends.
pub struct SmtpSink {
    pub port: u16,
    inbox: Arc<Inbox>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let inbox = Arc::new(Inbox::default());
        let handler = Collect { inbox: inbox.clone(), from: String::new(), to: Vec::new(), data: Vec::new() };
        let mut server = Server::new(handler);
        server.with_name("sink.test").with_num_threads(2).with_tcp_listener(listener);
        std::thread::spawn(move || {
            if let Err(e) = server.serve() {
                eprintln!("the test SMTP server stopped: {e}");
            }
        });
        SmtpSink { port, inbox }
    }

    /// The URL Beckon's `mail.smtp_url` takes to send here.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Everything received so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.inbox.mails.lock().unwrap().clone()
    }

    /// Waits until `n` emails have arrived (fails the test after `within`).
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let arrived = self.inbox.arrived.notified();
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("{n} emails expected within {within:?}, {} arrived", self.mails().len());
            }
        }
    }
}
