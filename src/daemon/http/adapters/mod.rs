//! Routes that speak other systems' formats and send through the same rules as every send:
//!
//! | file | owns |
//! | --- | --- |
//! | [`alertmanager`] | `POST /v1/alertmanager/{group}`: Alertmanager's webhook (payload version 4) rendered, cut to the parts allowed, sent, identical notifications within the repeat window not sent twice |
//! | [`dingtalk`] | `POST /v1/dingtalk/{robot}`: a DingTalk outgoing robot's `群发 <text>`, its signature checked, the sender mapped to a member, the result answered in the chat |

pub mod alertmanager;
pub mod dingtalk;
