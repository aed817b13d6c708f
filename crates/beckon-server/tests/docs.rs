//! The protocol reference stays true: every frame a client may send or receive, and every HTTP
//! route, is in docs/protocol.md — a frame or route added without its documentation fails here.
//! Read from the source (the protocol's enums, the routers), so nothing has to be listed twice.

use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The wire names of an internally tagged enum's variants (`rename_all = "snake_case"`, and
/// `#[serde(rename = "…")]` where given), read from its source.
fn variants(src: &str, name: &str) -> Vec<String> {
    let start = src.find(&format!("pub enum {name}")).unwrap_or_else(|| panic!("no enum {name}"));
    let body = &src[start..];
    let body = &body[body.find('{').unwrap() + 1..];
    let mut out = Vec::new();
    let mut rename: Option<String> = None;
    let mut depth = 0;
    for line in body.lines() {
        let t = line.trim();
        if depth == 0 {
            if t == "}" {
                break;
            }
            if let Some(r) = t.strip_prefix("#[serde(rename = \"").and_then(|r| r.split('"').next()) {
                rename = Some(r.to_owned());
            } else if let Some(c) = t.chars().next().filter(|c| c.is_ascii_uppercase()) {
                let _ = c;
                let ident: String = t.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
                out.push(rename.take().unwrap_or_else(|| snake(&ident)));
            }
        }
        depth += t.matches(['{', '(']).count() as i32 - t.matches(['}', ')']).count() as i32;
        depth = depth.max(0);
    }
    out
}

fn snake(ident: &str) -> String {
    let mut s = String::new();
    for (i, c) in ident.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                s.push('_');
            }
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

/// The part of the document between two headings.
fn section<'a>(doc: &'a str, from: &str, to: &str) -> &'a str {
    let i = doc.find(from).unwrap_or_else(|| panic!("no heading {from:?}"));
    let rest = &doc[i..];
    &rest[..rest[from.len()..].find(to).map_or(rest.len(), |j| j + from.len())]
}

#[test]
fn every_frame_is_in_the_protocol_reference() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let src = read(&root.join("crates/beckon-protocol/src/lib.rs"));
    let doc = read(&root.join("docs/protocol.md"));
    let visitor = section(&doc, "## Visitor WebSocket", "## Agent WebSocket");
    let agent = section(&doc, "## Agent WebSocket", "## Error codes");
    let documented = |part: &str, frame: &str| part.contains(&format!("| `{frame}` |"));

    let visitor_in = variants(&src, "VisitorIn");
    let agent_in = variants(&src, "AgentIn");
    let out = variants(&src, "Out");
    // Sanity: the reading sees the enums.
    assert!(
        visitor_in.contains(&"hello".to_owned()) && visitor_in.contains(&"leave_message".to_owned()),
        "{visitor_in:?}"
    );
    assert!(agent_in.contains(&"take".to_owned()), "{agent_in:?}");
    assert!(out.contains(&"welcome".to_owned()) && out.contains(&"waiting_gone".to_owned()), "{out:?}");

    let mut missing = Vec::new();
    for f in &visitor_in {
        if !documented(section(visitor, "### Client", "### Server"), f) {
            missing.push(format!("visitor → server `{f}`"));
        }
    }
    for f in &agent_in {
        if !documented(section(agent, "### Client", "### Server"), f) {
            missing.push(format!("agent → server `{f}`"));
        }
    }
    // Server frames are shared by both sockets: each must be in at least one "Server → client".
    for f in &out {
        let v = documented(section(visitor, "### Server", "## "), f);
        let a = documented(section(agent, "### Server", "## "), f);
        if !v && !a {
            missing.push(format!("server → client `{f}`"));
        }
    }
    assert!(missing.is_empty(), "frames missing from docs/protocol.md: {missing:#?}");
}

#[test]
fn every_http_route_is_in_the_protocol_reference() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = read(&root.join("docs/protocol.md"));
    let mut routes = BTreeSet::new();
    for dir in ["crates/beckon-server/src/http", "crates/beckon-server/src/ws"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let text = read(&entry.unwrap().path());
            for piece in text.split(".route(\"").skip(1) {
                let path = piece.split('"').next().unwrap();
                if path.starts_with("/v1/") {
                    routes.insert(path.to_owned());
                }
            }
        }
    }
    assert!(routes.contains("/v1/agent/canned-replies") && routes.len() > 20, "{routes:?}");
    // The description itself is a route, described by what it serves.
    let missing: Vec<_> =
        routes.iter().filter(|r| *r != "/v1/openapi.json" && !doc.contains(r.as_str())).collect();
    assert!(missing.is_empty(), "routes missing from docs/protocol.md: {missing:#?}");
}
