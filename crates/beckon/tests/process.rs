//! The real `beckon` binary: starts on a fresh clone's defaults, and keeps every acknowledged
//! message when the process is killed outright (SIGKILL, no shutdown) and started again.

use beckon_testkit::{DEMO_WIDGET_KEY, WsClient};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `beckon demo` and waits for its readiness line on stdout.
fn start(dir: &std::path::Path, bind: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_beckon"))
        .args(["demo", "--bind", bind])
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        // The delivery test sends its messages faster than one visitor may (tests/limits.rs).
        .env("BECKON_LIMITS__MESSAGES_PER_VISITOR_PER_MINUTE", "10000")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("beckon starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("beckon printed its address before exiting").unwrap();
        if let Some(url) = line.strip_prefix("beckon listening on ") {
            break url.to_owned();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

#[tokio::test]
async fn acknowledged_messages_survive_a_killed_process() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path(), "127.0.0.1:0");
    assert!(
        dir.path().join("beckon-demo.db").exists(),
        "the demo creates its SQLite file in the working directory"
    );
    let ws = format!("{}/v1/visitor/ws", first.url.replace("http://", "ws://"));
    let mut v = WsClient::connect(&ws, None).await.unwrap();
    let welcome = v.hello(json!({"widget_id": DEMO_WIDGET_KEY})).await.unwrap();
    let token = welcome["visitor_token"].as_str().unwrap().to_owned();
    v.request(json!({"type": "start_chat"})).await.unwrap();
    // No agent is online: the visitor is told their place in line (seq 1), then writes 20 messages.
    for i in 0..20 {
        let ack = v
            .request(json!({"type": "send", "client_msg_id": format!("k{i}"), "text": format!("kept {i}")}))
            .await
            .unwrap();
        assert_eq!(ack["seq"], i + 2);
    }
    let bind = first.url.trim_start_matches("http://").to_owned();
    drop(first); // SIGKILL: no graceful shutdown, no chance to flush anything.

    let second = start(dir.path(), &bind);
    let mut v = WsClient::connect(&ws, None).await.unwrap();
    let welcome =
        v.hello(json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": token, "last_seq": 0})).await.unwrap();
    assert_eq!(welcome["conversation"]["last_seq"], 21);
    let notice = v.expect("message").await.unwrap();
    assert_eq!(
        (notice["message"]["seq"].as_i64(), &notice["message"]["tags"][0]),
        (Some(1), &json!("queueposition"))
    );
    for i in 0..20 {
        let m = v.expect("message").await.unwrap();
        assert_eq!(
            (m["message"]["seq"].as_i64(), m["message"]["text"].as_str()),
            (Some(i + 2), Some(format!("kept {i}").as_str()))
        );
    }
    drop(second);
}

#[test]
fn widget_auth_is_validated_and_stored_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    drop(start(dir.path(), "127.0.0.1:0")); // creates and seeds beckon-demo.db
    let db = format!("sqlite://{}", dir.path().join("beckon-demo.db").display());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_beckon"))
            .arg("widget-auth")
            .args(args)
            .args(["--database-url", &db])
            .output()
            .unwrap()
    };
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"issuers": [], "jwks_url": "https://shop.example/jwks.json"}"#).unwrap();
    let out = run(&["beckon-demo", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("issuers"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = dir.path().join("pem.json");
    std::fs::write(
        &pem,
        r#"{"issuers": ["https://shop.example"], "keys": [{"kid": "k", "pem": "not a key"}]}"#,
    )
    .unwrap();
    let out = run(&["beckon-demo", pem.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("keys[0].pem"));

    let good = dir.path().join("good.json");
    std::fs::write(&good, r#"{"required": true, "issuers": ["https://shop.example"], "jwks_url": "https://shop.example/jwks.json"}"#).unwrap();
    let out = run(&["beckon-demo", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "widget beckon-demo: visitor authentication required (issuers: https://shop.example)"
    );
    let out = run(&["no-such-widget", "--off"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no widget"));
    let out = run(&["beckon-demo", "--off"]);
    assert!(out.status.success());
}

#[test]
fn agents_are_added_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    drop(start(dir.path(), "127.0.0.1:0"));
    let db = format!("sqlite://{}", dir.path().join("beckon-demo.db").display());
    let add = |email: &str, password: &str| {
        Command::new(env!("CARGO_BIN_EXE_beckon"))
            .args([
                "agent-add",
                "--widget",
                "beckon-demo",
                "--email",
                email,
                "--name",
                "Sam",
                "--capacity",
                "10",
                "--database-url",
                &db,
            ])
            .env("BECKON_NEW_AGENT_PASSWORD", password)
            .output()
            .unwrap()
    };
    // The same rule as the API's and the console's: 10–200 characters.
    let out = add("sam@demo.beckon", "9 chars!!");
    assert!(String::from_utf8_lossy(&out.stderr).contains("10–200 characters"), "{out:?}");
    let out = add("sam@demo.beckon", "long enough pw");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("capacity 10"));
    let out = add("SAM@demo.beckon", "long enough pw");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    // The same email rule as the API's and the widget's.
    let out = add("sam@demo", "long enough pw");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--email: \"sam@demo\" is not an email address"),
        "{out:?}"
    );
}

#[test]
fn a_stray_beckon_variable_is_warned_about_and_a_bad_setting_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_beckon"))
        .args(["demo", "--bind", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .env("BECKON_BIN", "/usr/local/bin/beckon") // a script's own variable
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let started = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.starts_with("beckon listening on "));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(started, "the server started despite BECKON_BIN: {stderr}");
    assert!(stderr.contains("BECKON_BIN") && stderr.contains("names no setting"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_beckon"))
        .args(["demo", "--bind", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("BECKON_WS__PING_INTERVAL_SECS", "often")
        .env("RUST_BACKTRACE", "1") // no backtrace all the same: this is no crash
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("beckon: configuration: BECKON_WS__PING_INTERVAL_SECS: "), "{stderr}");
}
