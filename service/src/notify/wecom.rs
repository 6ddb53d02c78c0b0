//! [`WeComNotifier`]: the WeCom (企业微信) group robot.
//!
//! POST to the channel target (`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...`):
//!
//! ```json
//! {"msgtype": "markdown", "markdown": {"content": "### <font color=\"warning\">...</font>\n..."}}
//! ```
//!
//! The markdown uses WeCom's documented subset only: headings, bold, inline code and
//! `<font color="info|comment|warning">` (green, grey, orange-red; see
//! [`super::render::wecom_colour`]). `content` may be at most 4096 bytes of UTF-8: longer
//! text is cut on a character boundary and ends with a note naming the notice id
//! ([`truncate_content`]); the Chinese part comes first, so it is what survives.
//!
//! Links: every alert's page (`http.public_url`) is a markdown link `[查看并确认](url)` in the
//! text. Mentions: WeCom's `markdown` message cannot @mention by mobile number (only `text`
//! messages have `mentioned_mobile_list`); weijian does not send a second `text` message
//! alongside, since it would double every notice in the group and could fail or be
//! rate-limited on its own: a supervisor's `mobile` is used for DingTalk only (documented in
//! docs/alert-delivery.md).
//!
//! WeCom robots have no signing: `secret_env` is ignored. The answer is
//! `{"errcode": 0, "errmsg": "ok"}`; `-1` (system busy) and `45009` (rate limit, 20 messages a
//! minute per robot) are transient, any other code permanent (`93000` invalid key, ...).

use alerting::delivery::ChannelKind;

use super::dingtalk::check_errcode;
use super::http::{HttpClient, HttpConfig};
use super::render::{self, Markdown};
use super::{Delivery, Notifier, NotifyError};

/// WeCom's limit on `markdown.content`, in bytes.
pub const MAX_CONTENT_BYTES: usize = 4096;

/// WeCom `errcode`s worth retrying: `-1` system busy, `45009` API frequency limit.
pub const TRANSIENT_ERRCODES: &[i64] = &[-1, 45_009];

/// The WeCom group robot.
#[derive(Debug, Clone)]
pub struct WeComNotifier {
    http: HttpClient,
}

impl WeComNotifier {
    pub fn new(config: &HttpConfig) -> Self {
        Self {
            http: HttpClient::new(config),
        }
    }

    /// The request body: markdown content, Chinese first, at most 4096 bytes.
    pub fn body(delivery: &Delivery) -> serde_json::Value {
        let content = truncate_content(
            render::markdown(delivery, Markdown::WeCom),
            &delivery.notice_id,
        );
        serde_json::json!({
            "msgtype": "markdown",
            "markdown": { "content": content }
        })
    }
}

/// `content` cut to [`MAX_CONTENT_BYTES`] on a character boundary (at a line end when one
/// is near), followed by a bilingual note, when it is longer; unchanged otherwise.
pub fn truncate_content(content: String, notice_id: &str) -> String {
    if content.len() <= MAX_CONTENT_BYTES {
        return content;
    }
    let note = format!(
        "\n<font color=\"comment\">……（内容过长已截断，完整内容见通知 {notice_id}）\
         (truncated; see notice {notice_id})</font>"
    );
    let budget = MAX_CONTENT_BYTES.saturating_sub(note.len());
    let mut cut = budget.min(content.len());
    while cut > 0 && !content.is_char_boundary(cut) {
        cut -= 1;
    }
    // Prefer ending at a line break if one is within the last 512 bytes: no half lines, and
    // no half `<font>` tag.
    if let Some(nl) = content[..cut].rfind('\n') {
        if cut - nl <= 512 {
            cut = nl;
        }
    }
    let mut out = String::with_capacity(cut + note.len());
    out.push_str(&content[..cut]);
    out.push_str(&note);
    out
}

impl Notifier for WeComNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Wecom
    }

    fn send(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        let url = &delivery.channel.target;
        let body = Self::body(delivery).to_string();
        let answer = self
            .http
            .post_json("wecom", url, &[], body.as_bytes(), &[])?;
        check_errcode("wecom", url, &answer.body, TRANSIENT_ERRCODES, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_content_is_left_alone() {
        assert_eq!(truncate_content("短".to_owned(), "n1"), "短");
    }

    #[test]
    fn long_chinese_content_is_cut_on_a_char_boundary_within_4096_bytes_with_a_note() {
        // 3-byte characters and no line breaks: the cut must fall between characters.
        let long = "水".repeat(3000);
        let out = truncate_content(long, "n9/new/site/1");
        assert!(out.len() <= MAX_CONTENT_BYTES, "{}", out.len());
        assert!(out.contains("内容过长已截断"));
        assert!(out.contains("n9/new/site/1"));
        assert!(out.starts_with("水水水"));
    }

    #[test]
    fn long_content_prefers_to_end_at_a_line_break() {
        let line = format!("{}\n", "a".repeat(99));
        let out = truncate_content(line.repeat(60), "n1");
        assert!(out.len() <= MAX_CONTENT_BYTES);
        let kept = out.split("\n<font").next().unwrap_or_default();
        assert!(kept.lines().all(|l| l.len() == 99), "no half lines");
    }
}
