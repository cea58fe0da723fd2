//! The console's two languages: Chinese (简体) and English. The browser's `Accept-Language`
//! chooses, unless the `gsms_lang` cookie (set by the language link on every page) says
//! otherwise. Every text of the pages is a key of [`text`]; error messages of the API are
//! shown as the API words them (English), after a translated lead.

use axum::http::header::ACCEPT_LANGUAGE;
use axum::http::HeaderMap;

use super::session::cookie;

/// The language cookie's name.
pub const LANG_COOKIE: &str = "gsms_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// The cookie's choice, else the first of the browser's languages we have.
    pub fn of(headers: &HeaderMap) -> Lang {
        match cookie(headers, LANG_COOKIE) {
            Some("zh") => return Lang::Zh,
            Some("en") => return Lang::En,
            _ => {}
        }
        let accept = headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut best: Option<(f32, Lang)> = None;
        for item in accept.split(',') {
            let mut it = item.split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
                .unwrap_or(1.0f32);
            let lang = if tag.starts_with("zh") {
                Lang::Zh
            } else if tag.starts_with("en") {
                Lang::En
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    /// The `lang` attribute of the page.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The code in the cookie and the switch link.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The other language (the switch link's target).
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The text of `key` in this language (the key itself when it has none: a bug, visible).
    pub fn t(self, key: &'static str) -> &'static str {
        match text(key) {
            Some((en, zh)) => match self {
                Lang::En => en,
                Lang::Zh => zh,
            },
            None => key,
        }
    }
}

/// `(English, Chinese)` of each key.
fn text(key: &str) -> Option<(&'static str, &'static str)> {
    Some(match key {
        "app" => ("groupsms console", "群发短信控制台"),
        "lang_name" => ("English", "中文"),
        "switch_to" => ("中文", "English"),
        "skip" => ("Skip to the content", "跳到正文"),
        "nav_overview" => ("Overview", "概览"),
        "nav_send" => ("Send", "发送"),
        "nav_broadcasts" => ("Broadcasts", "群发记录"),
        "nav_inbox" => ("Inbox", "收件箱"),
        "nav_groups" => ("Groups", "群组"),
        "nav_import" => ("Import", "导入"),
        "sign_in" => ("Sign in", "登录"),
        "sign_out" => ("Sign out", "退出"),
        "token" => ("Token", "令牌"),
        "token_help" => (
            "A member's or a management token, made with: groupsms token create",
            "成员令牌或管理令牌，用 groupsms token create 生成",
        ),
        "signed_in_as" => ("Signed in as", "当前身份"),
        "admin" => ("administrator", "管理员"),
        "bad_token" => ("This token was refused", "令牌被拒绝"),
        "signed_out" => ("You are signed out.", "已退出。"),
        "expired" => ("Please sign in.", "请登录。"),
        "csrf" => (
            "This form is out of date (or was not sent by this console). Please try again.",
            "表单已过期（或不是从本控制台提交的），请重试。",
        ),
        "modems" => ("Modem pool", "调制解调器池"),
        "device" => ("Device", "设备"),
        "state" => ("State", "状态"),
        "operator" => ("Operator", "运营商"),
        "signal" => ("Signal", "信号"),
        "imsi" => ("IMSI", "IMSI"),
        "hour" => ("This hour", "本小时"),
        "day" => ("Today", "今天"),
        "quarantine" => ("Quarantine", "隔离"),
        "problem" => ("Problem", "问题"),
        "no_modems" => ("No modem in the pool.", "池中没有调制解调器。"),
        "queue" => ("Queue", "队列"),
        "sending_now" => ("Broadcasts sending", "正在发送的群发"),
        "waiting_deliveries" => ("Deliveries waiting", "等待中的投递"),
        "waiting_broadcasts" => ("Broadcasts that wait", "等待中的群发"),
        "today" => ("Today's broadcasts", "今天的群发"),
        "none_today" => ("No broadcast today.", "今天没有群发。"),
        "problems" => ("Needs a person", "需要处理"),
        "no_problems" => ("Nothing needs a person.", "没有需要处理的问题。"),
        "store_problem" => ("The database cannot commit", "数据库无法提交"),
        "modem_down" => ("Modem out of the pool", "调制解调器不可用"),
        "sim_blocked" => ("SIM quarantined", "SIM 卡被隔离"),
        "webhook_failing" => ("Webhook failing", "Webhook 发送失败"),
        "webhook_pending" => ("waiting", "条等待"),
        "webhook_dead" => ("given up", "条已放弃"),
        "unmatched" => ("Status reports that matched nothing", "未匹配的状态报告"),
        "held" => ("Outcomes held until the database takes them", "等待写入数据库的结果"),
        "group" => ("Group", "群组"),
        "as" => ("Send as (a super-admin of the group)", "发送人（该群组的超级管理员）"),
        "message" => ("Message", "消息"),
        "urgent" => ("Urgent (also in quiet hours, where the group allows it)", "紧急（群组允许时，免打扰时段也发送）"),
        "preview" => ("Preview", "预览"),
        "confirm_send" => ("Confirm and send", "确认发送"),
        "edit" => ("Edit", "修改"),
        "live_preview" => ("Preview", "预览"),
        "encoding" => ("Encoding", "编码"),
        "parts" => ("Parts", "条数"),
        "chars_left" => ("Characters left in this part", "本条剩余字符"),
        "phone_shows" => ("The phone shows", "手机上显示"),
        "recipients" => ("Recipients", "收件人"),
        "left_out" => ("Left out", "被排除"),
        "opted_out" => ("opted out", "已退订"),
        "invalid" => ("invalid", "无效"),
        "sms_disabled" => ("SMS disabled", "禁用短信"),
        "duplicate" => ("duplicates", "重复号码"),
        "quota_left" => ("Quota left", "剩余配额"),
        "quota_day" => ("today", "今天"),
        "quota_month" => ("this month", "本月"),
        "sensitive" => ("Sensitive words", "敏感词"),
        "would_refuse" => ("Sending would be refused", "发送会被拒绝"),
        "would_accept" => ("Ready to send", "可以发送"),
        "no_send_groups" => (
            "You are not a super-admin of any group, so you cannot send.",
            "您不是任何群组的超级管理员，无法发送。",
        ),
        "refused" => ("Refused", "被拒绝"),
        "broadcast" => ("Broadcast", "群发"),
        "sender" => ("Sender", "发送人"),
        "created" => ("Created", "创建时间"),
        "sent" => ("sent", "已发送"),
        "delivered" => ("delivered", "已送达"),
        "undelivered" => ("undelivered", "未送达"),
        "failed" => ("failed", "失败"),
        "uncertain" => ("uncertain", "不确定"),
        "cancelled" => ("cancelled", "已取消"),
        "waiting" => ("waiting", "等待中"),
        "finished" => ("finished", "已完成"),
        "in_progress" => ("in progress", "进行中"),
        "deliveries" => ("Deliveries", "投递"),
        "member" => ("Member", "成员"),
        "number" => ("Number", "号码"),
        "modem" => ("Modem", "调制解调器"),
        "attempts" => ("Attempts", "尝试次数"),
        "error" => ("Error", "错误"),
        "replies" => ("Replies", "回复"),
        "no_replies" => ("No reply yet.", "还没有回复。"),
        "next_page" => ("Next page", "下一页"),
        "first_page" => ("First page", "第一页"),
        "no_broadcasts" => ("No broadcast yet.", "还没有群发。"),
        "text" => ("Text", "内容"),
        "unread" => ("Unread", "未读"),
        "all_messages" => ("All messages", "全部消息"),
        "from" => ("From", "发件人"),
        "received" => ("Received", "收到时间"),
        "handling" => ("Kind", "类型"),
        "reply" => ("reply", "回复"),
        "opt_out" => ("opt-out", "退订"),
        "opt_in" => ("opt-in", "重新订阅"),
        "other" => ("other", "其他"),
        "carrier_notice" => ("carrier notice", "运营商通知"),
        "mark_read" => ("Mark read", "标为已读"),
        "no_messages" => ("No message.", "没有消息。"),
        "groups" => ("Groups", "群组"),
        "handle" => ("Handle", "标识"),
        "name" => ("Name", "名称"),
        "header" => ("Header", "抬头"),
        "quota" => ("Quota (day / month)", "配额（日 / 月）"),
        "members" => ("Members", "成员"),
        "role" => ("Role", "角色"),
        "phone" => ("Phone", "电话"),
        "yes" => ("yes", "是"),
        "no" => ("no", "否"),
        "admins_only" => (
            "This page is for administrators (sign in with a management token).",
            "此页面仅限管理员（请用管理令牌登录）。",
        ),
        "import_title" => ("Import members (CSV)", "导入成员（CSV）"),
        "import_help" => (
            "Columns: handle,name,phone and optionally group,role,uid. First you see what the \
             import would do, and the bad rows with their line numbers; nothing is written until \
             you confirm.",
            "列：handle,name,phone，可选 group,role,uid。先预览导入会做什么，并按行号列出错误行；确认之前什么都不写入。",
        ),
        "import_preview" => ("Preview: nothing is written yet", "预览：尚未写入任何内容"),
        "would_skip" => ("bad rows would be left out", "行有误，将被跳过"),
        "confirm_import" => ("Confirm the import", "确认导入"),
        "import_changed" => (
            "The file or the members changed since the preview: nothing was written. Look at \
             this new preview and confirm again.",
            "预览之后文件或成员有变化：什么都没有写入。请查看新的预览后再确认。",
        ),
        "and_more" => ("more not listed", "人未列出"),
        "to_member" => ("The member", "成员本身"),
        "to_group" => ("In the group", "在群组中"),
        "ch_created" => ("new", "新建"),
        "ch_updated" => ("changed", "修改"),
        "ch_unchanged" => ("as it is", "不变"),
        "ch_added" => ("added", "加入"),
        "ch_changed" => ("changed", "修改"),
        "rows_more" => ("more rows, counted above", "行未列出，已计入上面的数字"),
        "edit_group" => ("Change the group", "修改群组"),
        "header_help" => ("Empty: the default header", "留空：使用默认抬头"),
        "quota_help" => ("Empty: the default quota", "留空：使用默认配额"),
        "pinned" => ("Pinned to modems", "绑定的模块"),
        "pinned_help" => (
            "IMSIs or device paths, separated by commas or spaces; empty: any modem",
            "IMSI 或设备路径，用逗号或空格分隔；留空：任意模块",
        ),
        "pin_fallback" => (
            "Use other modems when every pinned one is down",
            "绑定的模块都不可用时改用其他模块",
        ),
        "allow_urgent" => (
            "Its super-admins may send urgent broadcasts",
            "超级管理员可以发送紧急广播",
        ),
        "add_member" => ("Add a member to this group", "向本群组添加成员"),
        "uid" => ("Unix user id (optional)", "Unix 用户 ID（可选）"),
        "add" => ("Add", "添加"),
        "edit_member" => ("Change the member", "修改成员"),
        "valid" => ("The number works", "号码有效"),
        "sms_enabled" => ("Receives SMS", "接收短信"),
        "refused_change" => ("Not changed", "未修改"),
        "whole_message" => ("Read the whole message", "阅读全文"),
        "message_title" => ("Message", "消息"),
        "back_inbox" => ("Back to the inbox", "返回收件箱"),
        "csv" => ("CSV", "CSV"),
        "csv_file" => ("Or choose a file", "或选择文件"),
        "import" => ("Import", "导入"),
        "import_good" => ("Import the good rows, skip the bad ones", "只导入正确的行，跳过错误行"),
        "import_refused" => ("Nothing was imported", "什么都没有导入"),
        "imported" => ("Imported", "已导入"),
        "created_n" => ("members created", "新建成员"),
        "updated_n" => ("members updated", "更新成员"),
        "unchanged_n" => ("unchanged", "未变"),
        "memberships_n" => ("memberships added", "新增成员关系"),
        "skipped_n" => ("rows skipped", "跳过的行"),
        "line" => ("Line", "行"),
        "reason" => ("Reason", "原因"),
        "not_found" => ("Not found", "未找到"),
        "new_group" => ("New group", "新建群组"),
        "create" => ("Create", "创建"),
        "quota_word" => ("Quota", "配额"),
        "change" => ("Change", "修改"),
        "save" => ("Save", "保存"),
        "do_opt_out" => ("Opt out", "设为退订"),
        "do_opt_in" => ("Opt back in", "恢复订阅"),
        "api_error" => ("The daemon refused", "守护进程拒绝了请求"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(v: &str) -> Lang {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_LANGUAGE, HeaderValue::from_str(v).unwrap());
        Lang::of(&h)
    }

    #[test]
    fn the_browser_chooses_unless_the_cookie_does() {
        assert_eq!(accept("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(accept("en-US,en;q=0.9,zh;q=0.8"), Lang::En);
        assert_eq!(accept("fr;q=1, zh-TW;q=0.5"), Lang::Zh);
        assert_eq!(accept("de"), Lang::En);
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_LANGUAGE, HeaderValue::from_static("zh-CN"));
        h.insert("cookie", HeaderValue::from_static("gsms_lang=en"));
        assert_eq!(Lang::of(&h), Lang::En);
    }
}
