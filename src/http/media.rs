//! Media signaling: a browser's offer for its leg of a call goes to the SFU and the answer
//! comes back; trickled candidates follow; supervisors start and stop silently monitoring a
//! call. The SFU knows calls and legs only; who may use which leg is decided here.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sunwai_signaling::{wire, ErrorCode, IceCandidate, SdpKind, ServerMsg, SessionDescription};

use super::ws::Conn;
use crate::config::MediaSettings;
use crate::core::ids::EntryId;
use crate::sfu::{Leg, MediaError};
use crate::store::{Actor, AuditAction, AuditActor, Disposition, NewAudit, RecordEvent, User};

/// The STUN and TURN servers for a browser. With a TURN secret, `turn:` and `turns:` URLs
/// get credentials in coturn's REST scheme: the user name is `expiry:label`, the password
/// the Base64 HMAC-SHA1 of the user name under the shared secret.
pub fn ice_servers(m: &MediaSettings, now_unix: i64, label: &str) -> Vec<wire::IceServer> {
    if !m.enabled || m.ice_servers.is_empty() {
        return Vec::new();
    }
    let (stun, turn): (Vec<String>, Vec<String>) = m
        .ice_servers
        .iter()
        .cloned()
        .partition(|u| u.starts_with("stun:"));
    let mut out = Vec::new();
    if !stun.is_empty() {
        out.push(wire::IceServer {
            urls: stun,
            username: None,
            credential: None,
        });
    }
    if !turn.is_empty() {
        let (username, credential) = match &m.turn_secret {
            Some(secret) => {
                let user = format!("{}:{label}", now_unix + i64::from(m.turn_ttl_secs));
                (Some(user.clone()), Some(turn_password(secret, &user)))
            }
            None => (None, None),
        };
        out.push(wire::IceServer {
            urls: turn,
            username,
            credential,
        });
    }
    out
}

fn turn_password(secret: &str, user: &str) -> String {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(user.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl Conn {
    /// A browser's offer for `leg` of `call`, answered by the SFU: the answer goes out as
    /// an `sdp` message, then the request's `ok`.
    pub async fn media_offer(
        &mut self,
        id: u64,
        call: Option<EntryId>,
        leg: Leg,
        d: SessionDescription,
    ) {
        let Some(sfu) = self.app.media().cloned() else {
            return self.reply_err(
                Some(id),
                ErrorCode::Unavailable,
                "media is not enabled on this server",
            );
        };
        if d.sdp_type != SdpKind::Offer {
            return self.reply_err(
                Some(id),
                ErrorCode::InvalidInput,
                "send an offer; the server answers",
            );
        }
        let Some(call) = call else {
            return self.reply_err(
                Some(id),
                ErrorCode::OutOfOrder,
                "there is no call to send media to yet",
            );
        };
        // The SFU's news about this call's media reaches this page through its outbox,
        // queued without waiting (a page too slow to take it is closed, as for the desk's).
        let outbox = self.outbox.clone();
        let events: crate::sfu::LegEvents = std::sync::Arc::new(move |e| {
            outbox.push(crate::desk::Outbound::Media(e));
        });
        match sfu.answer(call.0, leg, d.sdp, Some(events)).await {
            Ok(answer) => {
                self.send(ServerMsg::Sdp {
                    description: SessionDescription {
                        sdp_type: SdpKind::Answer,
                        sdp: answer,
                    },
                });
                self.send(ServerMsg::Ok { re: id });
            }
            Err(MediaError::BadSdp(why)) => {
                let mut e = ServerMsg::error(
                    Some(id),
                    ErrorCode::InvalidInput,
                    format!("the offer could not be used: {why}"),
                );
                if let ServerMsg::Error { field, .. } = &mut e {
                    *field = Some("description".into());
                }
                self.send(e);
            }
            Err(e) => {
                tracing::warn!(error = %e, %call, ?leg, "media offer failed");
                self.reply_err(
                    Some(id),
                    ErrorCode::Unavailable,
                    "media could not be set up just now; try again",
                );
            }
        }
    }

    /// A trickled candidate for `leg` of `call`; ignored when there is no call.
    pub fn media_candidate(&mut self, call: Option<EntryId>, leg: Leg, c: IceCandidate) {
        if let (Some(sfu), Some(call)) = (self.app.media(), call) {
            sfu.remote_candidate(call.0, leg, c.candidate);
        }
    }

    /// Starts silently monitoring a live call the supervisor may see. The supervisor then
    /// sends a receive-only offer for their monitor leg.
    pub async fn start_monitor(&mut self, id: u64, user: &User, entry: EntryId) {
        if self.app.media().is_none() {
            return self.reply_err(
                Some(id),
                ErrorCode::Unavailable,
                "media is not enabled on this server",
            );
        }
        let record = match self.app.store().get(entry).await {
            Ok(Some(r)) if user.desk.as_ref().is_none_or(|d| *d == r.desk) => r,
            Ok(_) => return self.reply_err(Some(id), ErrorCode::NotFound, "no such call"),
            Err(e) => {
                tracing::error!(error = %e, "record lookup failed");
                return self.reply_err(Some(id), ErrorCode::Internal, "could not read the record");
            }
        };
        if record.disposition != Disposition::InCall {
            return self.reply_err(Some(id), ErrorCode::OutOfOrder, "that call is not live");
        }
        if let Some(previous) = self.monitoring.take() {
            self.stop_monitor_leg(user, previous).await;
        }
        self.monitoring = Some(entry);
        self.note_monitor(user, entry, Some(record.reference.to_string()), true)
            .await;
        self.send(ServerMsg::Ok { re: id });
    }

    pub async fn stop_monitor(&mut self, id: u64, user: &User, entry: EntryId) {
        if self.monitoring != Some(entry) {
            return self.reply_err(Some(id), ErrorCode::OutOfOrder, "not monitoring that call");
        }
        self.monitoring = None;
        self.stop_monitor_leg(user, entry).await;
        self.send(ServerMsg::Ok { re: id });
    }

    /// Closes this connection's monitor leg and writes the end down.
    pub async fn stop_monitor_leg(&mut self, user: &User, entry: EntryId) {
        if let Some(sfu) = self.app.media() {
            sfu.close_leg(entry.0, Leg::Monitor(self.id));
        }
        let reference = match self.app.store().get(entry).await {
            Ok(Some(r)) => Some(r.reference.to_string()),
            _ => None,
        };
        self.note_monitor(user, entry, reference, false).await;
    }

    /// Every monitor session goes into the record's history and the audit log.
    async fn note_monitor(
        &self,
        user: &User,
        entry: EntryId,
        reference: Option<String>,
        start: bool,
    ) {
        let store = self.app.store();
        let at = self.app.clock().now();
        let text = if start {
            crate::store::said::MONITOR_STARTED
        } else {
            crate::store::said::MONITOR_STOPPED
        };
        let note = RecordEvent::Note {
            id: entry,
            at,
            actor: Actor::User {
                id: user.id,
                name: user.display_name.clone(),
            },
            text: text.into(),
        };
        if let Err(e) = store.apply(note).await {
            tracing::error!(error = %e, "could not note a monitor session in the record");
        }
        let action = if start {
            AuditAction::MonitorStart
        } else {
            AuditAction::MonitorStop
        };
        let mut audit = NewAudit::new(at, AuditActor::user(user.id, &user.username), action);
        audit.record = Some(entry);
        audit.reference = reference;
        audit.address = Some(self.ip);
        if let Err(e) = store.audit(audit).await {
            tracing::error!(error = %e, "could not audit a monitor session");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_credentials_follow_coturns_rest_scheme() {
        // Known answer, computed independently (Python's hmac + hashlib.sha1 + base64).
        assert_eq!(
            turn_password("north", "1700000000:x"),
            "VfuvcFeO8Kni083/bCKUEsscHGw="
        );
        let mut m = crate::config::FileConfig::default()
            .validate()
            .unwrap()
            .media;
        m.ice_servers = vec!["stun:s.example:3478".into(), "turn:t.example:3478".into()];
        m.turn_secret = Some("north".into());
        m.turn_ttl_secs = 600;
        let servers = ice_servers(&m, 1_700_000_000, "citizen");
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].username, None);
        assert_eq!(servers[1].username.as_deref(), Some("1700000600:citizen"));
        assert_eq!(
            servers[1].credential.as_deref(),
            Some(turn_password("north", "1700000600:citizen").as_str())
        );
    }
}
