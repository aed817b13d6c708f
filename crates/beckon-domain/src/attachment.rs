//! Files sent in a chat: what an attachment is, which files are accepted, and how their names are
//! kept.
//!
//! A file is accepted for what its bytes are, never for its name or the type the browser claims:
//! images (PNG, JPEG, GIF, WebP — previewed in the chat), PDF, office documents (Word, Excel,
//! PowerPoint and their OpenDocument peers) and plain UTF-8 text. Anything else — executables,
//! archives, SVG and HTML (both can run script), a `.png` that is really a program — is refused.
//! The type found here is the one the file is served with, so a browser never runs an upload.

use serde::{Deserialize, Serialize};

/// Longest file name kept, in characters (a longer one is shortened, keeping its extension).
pub const MAX_NAME_CHARS: usize = 120;

/// A file in a conversation, as a message carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    /// Random, 32 hex digits; where the file is stored and fetched.
    pub id: String,
    /// The file's name as the sender's device called it (cleaned: no folders, no control
    /// characters); shown as text only.
    pub name: String,
    /// What the bytes are (found from them, not from the name).
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
}

impl Attachment {
    /// Shown inline in the chat (a preview) rather than only offered as a download.
    pub fn is_image(&self) -> bool {
        FileKind::from_content_type(&self.content_type).is_some_and(FileKind::is_image)
    }
}

/// `12.3 MB`, `850 KB`, `12 bytes`.
pub fn human_size(n: u64) -> String {
    match n {
        n if n >= 1024 * 1024 => format!("{:.1} MB", n as f64 / (1024.0 * 1024.0)),
        n if n >= 1024 => format!("{} KB", n.div_ceil(1024)),
        n => format!("{n} bytes"),
    }
}

/// An attachment id: exactly 32 lowercase hex digits (so it is safe as a file or object name).
pub fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The kinds of file a chat accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
    Docx,
    Xlsx,
    Pptx,
    Odt,
    Ods,
    Odp,
    Doc,
    Xls,
    Ppt,
    Text,
}

const ALL: [FileKind; 15] = [
    FileKind::Png,
    FileKind::Jpeg,
    FileKind::Gif,
    FileKind::Webp,
    FileKind::Pdf,
    FileKind::Docx,
    FileKind::Xlsx,
    FileKind::Pptx,
    FileKind::Odt,
    FileKind::Ods,
    FileKind::Odp,
    FileKind::Doc,
    FileKind::Xls,
    FileKind::Ppt,
    FileKind::Text,
];

impl FileKind {
    /// What `bytes` are, if a chat accepts that kind of file.
    pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
        if let Some(t) = infer::get(bytes) {
            return ALL.into_iter().find(|k| k.infer_type() == Some(t.mime_type()));
        }
        is_plain_text(bytes).then_some(FileKind::Text)
    }

    fn infer_type(self) -> Option<&'static str> {
        Some(match self {
            FileKind::Text => return None,
            FileKind::Doc => "application/msword",
            FileKind::Xls => "application/vnd.ms-excel",
            FileKind::Ppt => "application/vnd.ms-powerpoint",
            k => k.content_type(),
        })
    }

    /// The type the file is stored and served with.
    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Png => "image/png",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Gif => "image/gif",
            FileKind::Webp => "image/webp",
            FileKind::Pdf => "application/pdf",
            FileKind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            FileKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            FileKind::Pptx => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            FileKind::Odt => "application/vnd.oasis.opendocument.text",
            FileKind::Ods => "application/vnd.oasis.opendocument.spreadsheet",
            FileKind::Odp => "application/vnd.oasis.opendocument.presentation",
            FileKind::Doc => "application/msword",
            FileKind::Xls => "application/vnd.ms-excel",
            FileKind::Ppt => "application/vnd.ms-powerpoint",
            FileKind::Text => "text/plain; charset=utf-8",
        }
    }

    pub fn from_content_type(t: &str) -> Option<FileKind> {
        ALL.into_iter().find(|k| k.content_type() == t)
    }

    pub fn is_image(self) -> bool {
        matches!(self, FileKind::Png | FileKind::Jpeg | FileKind::Gif | FileKind::Webp)
    }

    /// The extension a name of this kind should end with, added when the sender's name has none
    /// of its own (so the downloaded file opens in the right program).
    fn extensions(self) -> &'static [&'static str] {
        match self {
            FileKind::Png => &["png"],
            FileKind::Jpeg => &["jpg", "jpeg"],
            FileKind::Gif => &["gif"],
            FileKind::Webp => &["webp"],
            FileKind::Pdf => &["pdf"],
            FileKind::Docx => &["docx"],
            FileKind::Xlsx => &["xlsx"],
            FileKind::Pptx => &["pptx"],
            FileKind::Odt => &["odt"],
            FileKind::Ods => &["ods"],
            FileKind::Odp => &["odp"],
            FileKind::Doc => &["doc"],
            FileKind::Xls => &["xls"],
            FileKind::Ppt => &["ppt"],
            FileKind::Text => &["txt", "csv", "log", "md", "json"],
        }
    }
}

/// UTF-8 without NULs or other control characters than tab, line feed, carriage return and form
/// feed: what a `.txt`, `.csv` or `.log` holds, and what no program or image does.
fn is_plain_text(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            !s.is_empty() && !s.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c'))
        }
        Err(_) => false,
    }
}

/// The name a file is kept under: the last part of what the sender gave (no folders), without
/// control characters or the characters file systems refuse, at most [`MAX_NAME_CHARS`], and
/// ending with an extension of its kind (`report` → `report.pdf`; `photo.exe` of a PNG →
/// `photo.exe.png`). An empty name becomes `file.<ext>`.
pub fn clean_name(given: &str, kind: FileKind) -> String {
    let last = given.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*'))
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .to_owned();
    let ext = kind.extensions();
    let has_ext = name
        .rsplit_once('.')
        .is_some_and(|(stem, e)| !stem.is_empty() && ext.iter().any(|x| x.eq_ignore_ascii_case(e)));
    if name.is_empty() {
        name = "file".into();
    }
    let suffix = if has_ext { String::new() } else { format!(".{}", ext[0]) };
    let room = MAX_NAME_CHARS - suffix.chars().count();
    if name.chars().count() > room {
        // Keep the extension (if it has its own) and the start of the name.
        let (stem, tail) = match (has_ext, name.rsplit_once('.')) {
            (true, Some((s, e))) => (s.to_owned(), format!(".{e}")),
            _ => (name.clone(), String::new()),
        };
        let keep = room - tail.chars().count();
        name = stem.chars().take(keep).collect::<String>() + &tail;
    }
    name + &suffix
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

    #[test]
    fn kinds_come_from_the_bytes() {
        assert_eq!(FileKind::sniff(PNG), Some(FileKind::Png));
        assert_eq!(FileKind::sniff(b"\xff\xd8\xff\xe0\0\x10JFIF\0"), Some(FileKind::Jpeg));
        assert_eq!(FileKind::sniff(b"GIF89a\x01\0\x01\0"), Some(FileKind::Gif));
        assert_eq!(FileKind::sniff(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), Some(FileKind::Pdf));
        assert_eq!(FileKind::sniff("Order 1234, café\r\nline two\n".as_bytes()), Some(FileKind::Text));
        // A program, an archive, script-bearing formats, binary junk: refused.
        assert_eq!(FileKind::sniff(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff"), None);
        assert_eq!(FileKind::sniff(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0"), None);
        assert_eq!(FileKind::sniff(b"PK\x03\x04\x14\0\0\0\x08\0"), None);
        assert_eq!(FileKind::sniff(b"\x1f\x8b\x08\0\0\0\0\0"), None);
        assert_eq!(FileKind::sniff(b"\0\x01\x02binary"), None);
        assert_eq!(FileKind::sniff(b""), None);
    }

    #[test]
    fn markup_never_becomes_something_that_runs() {
        // HTML and shell scripts are recognised and refused; an SVG is only ever plain text
        // (served as text/plain, as a download), never image/svg+xml.
        assert_eq!(FileKind::sniff(b"<!doctype html><script>alert(1)</script>"), None);
        assert_eq!(FileKind::sniff(b"#!/bin/sh\nrm -rf /\n"), None);
        assert_eq!(
            FileKind::sniff(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"),
            Some(FileKind::Text)
        );
        assert_eq!(FileKind::Text.content_type(), "text/plain; charset=utf-8");
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name("C:\\Users\\me\\photo.PNG", FileKind::Png), "photo.PNG");
        assert_eq!(clean_name("../../etc/passwd", FileKind::Text), "passwd.txt");
        assert_eq!(clean_name("photo.exe", FileKind::Png), "photo.exe.png");
        assert_eq!(clean_name("", FileKind::Pdf), "file.pdf");
        assert_eq!(clean_name(".htaccess", FileKind::Text), "htaccess.txt");
        assert_eq!(clean_name("a\u{0}b\nc<d>.pdf", FileKind::Pdf), "abcd.pdf");
        let long = format!("{}.pdf", "x".repeat(300));
        let cleaned = clean_name(&long, FileKind::Pdf);
        assert_eq!(cleaned.chars().count(), MAX_NAME_CHARS);
        assert!(cleaned.ends_with("x.pdf"));
        let long = "é".repeat(300);
        let cleaned = clean_name(&long, FileKind::Jpeg);
        assert_eq!(cleaned.chars().count(), MAX_NAME_CHARS);
        assert!(cleaned.ends_with(".jpg"));
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_size(10 * 1024 * 1024), "10.0 MB");
        assert_eq!(human_size(1500), "2 KB");
        assert_eq!(human_size(12), "12 bytes");
    }

    #[test]
    fn ids_are_hex() {
        assert!(valid_id("0123456789abcdef0123456789abcdef"));
        assert!(!valid_id("0123456789ABCDEF0123456789abcdef"));
        assert!(!valid_id("../../../../etc/passwd0000000000"));
        assert!(!valid_id("abc"));
    }
}
