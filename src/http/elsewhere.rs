//! REST requests about a desk that another node serves (several nodes): forwarded there,
//! after this node has checked who is asking. Only what needs the live room goes this way
//! (the supervisor's chart and forecast); everything the shared database answers is
//! answered on any node.

use std::net::IpAddr;

use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use super::error::ApiError;
use crate::app::App;
use crate::cluster::relay::RELAYED_HEADER;
use crate::cluster::Owner;
use crate::core::ids::DeskId;
use crate::store::{Role, User};

/// The request as the desk's node answers it, when another node serves `desk`; `None`
/// when this node serves it (or it is unknown, or there is no cluster).
pub async fn forwarded(
    app: &App,
    user: &User,
    desk: &str,
    uri: &Uri,
    headers: &HeaderMap,
    ip: IpAddr,
) -> Option<Result<Response, ApiError>> {
    let cluster = app.cluster()?;
    app.desk_config(desk)?;
    if app.desk(desk).is_some() {
        return None;
    }
    Some(forward(app, cluster, user, desk, uri, headers, ip).await)
}

async fn forward(
    app: &App,
    cluster: &crate::cluster::Cluster,
    user: &User,
    desk: &str,
    uri: &Uri,
    headers: &HeaderMap,
    ip: IpAddr,
) -> Result<Response, ApiError> {
    if user.role != Role::Supervisor || user.desk.as_ref().is_some_and(|d| d.as_str() != desk) {
        return Err(ApiError::Forbidden);
    }
    if headers.contains_key(RELAYED_HEADER) {
        // Forwarded here on a stale view of the leases: never forwarded twice.
        return Err(ApiError::Unavailable(format!(
            "desk {desk} is not served here"
        )));
    }
    let id = DeskId::parse(desk).map_err(|_| ApiError::NotFound)?;
    let url = match cluster.owner(app.store(), &id).await? {
        Owner::There(url) => url,
        Owner::Nobody => return Err(ApiError::Unavailable(format!("desk {desk} is moving"))),
    };
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    crate::cluster::forward::get(&url, path, headers, ip, &cluster.node().id)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))
}
