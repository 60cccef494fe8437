//! Writes: events in (`POST /api/events`, `PUT /api/events/{id}`), out (`DELETE`), and the
//! numbered change log (`GET /api/changes`). Every write needs a key; its 2xx is sent once
//! the store has the change on disk and the next request already sees it.

use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use warp::http::{StatusCode, header};
use warp::reply::Response;

use super::problem::{Problem, ProblemKind};
use super::{JSON, Request, json_response};
use crate::live::{
    BodyFormat, ChangeRecord, Location, RecordError, WriteError, Written, one_event, read_body,
};
use crate::model::Event;
use crate::params::limits::{DEFAULT_CHANGES_LIMIT, MAX_RECORD_ERRORS};
use crate::params::queries::{ChangesQuery, IdPath, NoQuery};

/// How to turn writes on, said in every 403.
const ENABLE_WRITES: &str = "writes are disabled on this server: start it with SAHEL_ATLAS_WRITE_KEYS=KEY1,KEY2 or --write-keys-file FILE, then send Authorization: Bearer KEY";

/// Lets the request through if it carries one of the write keys (compared in constant
/// time; keys are never logged).
fn authorize(r: &Request) -> Result<(), Problem> {
    let keys = r.state.write_keys();
    if keys.is_empty() {
        return Err(Problem::new(ProblemKind::WritesDisabled, ENABLE_WRITES));
    }
    let given = r
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    // Every key is compared, so the time taken does not tell which one nearly matched.
    let matched = keys.iter().fold(0u8, |acc, k| {
        acc | k.as_bytes().ct_eq(given.as_bytes()).unwrap_u8()
    });
    if given.is_empty() || matched == 0 {
        return Err(Problem::new(
            ProblemKind::Unauthorized,
            "send a write key as Authorization: Bearer KEY",
        ));
    }
    Ok(())
}

/// The body's format, from its media type (parameters ignored).
fn body_format(r: &Request) -> Result<BodyFormat, Problem> {
    match media_type(r).as_str() {
        "application/geo+json" | "application/json" => Ok(BodyFormat::GeoJson),
        "text/csv" => Ok(BodyFormat::Csv),
        other => Err(Problem::new(
            ProblemKind::UnsupportedMediaType,
            format!(
                "Content-Type {other:?}: send application/geo+json (a Feature or FeatureCollection of Points with ACLED properties) or text/csv (an ACLED or UCDP export)"
            ),
        )),
    }
}

/// The body's media type, without parameters.
fn media_type(r: &Request) -> String {
    r.headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A 422 listing every record that cannot be stored.
fn invalid_records(errors: Vec<RecordError>) -> Problem {
    let n = errors.len();
    let listed: Vec<Value> = errors
        .into_iter()
        .map(|e| {
            let record = match e.location {
                Location::Line(n) => json!(n),
                Location::Feature(i) => json!(i),
                Location::File => Value::Null,
            };
            json!({"record": record, "field": e.field, "problem": e.problem})
        })
        .collect();
    let more = if n >= MAX_RECORD_ERRORS {
        format!(" (listing the first {MAX_RECORD_ERRORS})")
    } else {
        String::new()
    };
    Problem::new(
        ProblemKind::InvalidRecords,
        format!("{n} record(s) cannot be stored{more}; nothing was stored"),
    )
    .with("errors", json!(listed))
}

/// The events of the request body (see [`read_body`]).
fn body_events(r: &Request, id: Option<&str>) -> Result<Vec<Event>, Problem> {
    read_body(body_format(r)?, r.body, id, MAX_RECORD_ERRORS).map_err(invalid_records)
}

fn written(status: StatusCode, w: &Written) -> Response {
    let ids: Vec<&str> = w.records.iter().map(|c| c.id.as_str()).collect();
    let mut resp = json_response(
        JSON,
        &json!({"inserted": w.inserted, "updated": w.updated, "ids": ids, "sequence": w.sequence}),
    );
    *resp.status_mut() = status;
    resp
}

/// `POST /api/events`: insert or update every event of the body, all or nothing.
pub fn post_events(r: &Request, _: NoQuery, _: NoQuery) -> Result<Response, Problem> {
    authorize(r)?;
    let w = r.state.live.upsert(body_events(r, None)?)?;
    Ok(written(StatusCode::CREATED, &w))
}

/// `PUT /api/events/{id}`: the body's one event replaces (or creates) event `id`.
pub fn put_event(r: &Request, path: IdPath, _: NoQuery) -> Result<Response, Problem> {
    authorize(r)?;
    let id = path.id.0;
    let event = one_event(body_events(r, Some(&id))?, &id).map_err(invalid_records)?;
    let w = r.state.live.upsert(vec![event])?;
    let status = if w.inserted > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(written(status, &w))
}

/// `DELETE /api/events/{id}`
pub fn delete_event(r: &Request, path: IdPath, _: NoQuery) -> Result<Response, Problem> {
    authorize(r)?;
    r.state.live.delete(path.id.0.as_str())?;
    let mut resp = Response::new(Default::default());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

/// `GET /api/changes?since=SEQ`: the change log after `since`, oldest first; with
/// `Accept: text/event-stream`, a Server-Sent Events stream of it that stays open and
/// resumes after `Last-Event-ID`.
pub fn changes(r: &Request, _: NoQuery, q: ChangesQuery) -> Result<Response, Problem> {
    let since = q.changes.since.map_or(0, |s| u64::from(s.get()));
    let wants_stream = r
        .headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"));
    if wants_stream {
        let resume = r
            .headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        return Ok(change_stream(r.state.live.clone(), resume.unwrap_or(since)));
    }
    let limit = q
        .changes
        .limit
        .map_or(DEFAULT_CHANGES_LIMIT, |l| l.get() as usize);
    let (list, sequence) = r
        .state
        .live
        .changes_since(since, limit)
        .map_err(WriteError::from)?;
    let changes: Vec<Value> = list.iter().map(change_json).collect();
    Ok(json_response(
        JSON,
        &json!({"sequence": sequence, "changes": changes}),
    ))
}

/// One change as clients read it, in the JSON list and in the event stream alike.
fn change_json(c: &ChangeRecord) -> Value {
    json!({"seq": c.seq, "op": c.op.name(), "id": c.id})
}

/// `POST /admin/reload`: re-reads the data files (and the store) into a new snapshot; on
/// failure the previous data keeps serving and the answer says what was wrong.
pub fn reload(r: &Request, _: NoQuery, _: NoQuery) -> Result<Response, Problem> {
    authorize(r)?;
    let report = r.state.live.reload();
    match report.error {
        None => Ok(json_response(
            JSON,
            &json!({"ok": true, "at": report.at, "events": report.events, "ms": report.millis}),
        )),
        Some(e) => Err(Problem::new(
            ProblemKind::ReloadFailed,
            format!("{e}; the previous data keeps serving"),
        )),
    }
}

/// The change log from `since` on as Server-Sent Events (`id` = sequence number, event
/// `change`, data `{seq, op, id}`), then each change as it is committed; a comment every
/// 15 s keeps proxies from closing an idle stream.
fn change_stream(live: std::sync::Arc<crate::live::Live>, since: u64) -> Response {
    use std::collections::VecDeque;
    use warp::Reply;
    use warp::sse::Event;

    use crate::live::Notice;

    // Subscribed before the first read, so a write in between is never missed.
    let notices = live.subscribe();
    let start = (live, notices, since, VecDeque::<ChangeRecord>::new());
    let events = futures_util::stream::unfold(
        start,
        |(live, mut notices, mut last, mut queue)| async move {
            loop {
                if let Some(c) = queue.pop_front() {
                    last = c.seq;
                    let event = Event::default()
                        .id(c.seq.to_string())
                        .event("change")
                        .data(change_json(&c).to_string());
                    return Some((
                        Ok::<_, std::convert::Infallible>(event),
                        (live, notices, last, queue),
                    ));
                }
                if *notices.borrow() == Notice::Closing {
                    return None;
                }
                let reader = live.clone();
                let read = tokio::task::spawn_blocking(move || {
                    reader
                        .changes_since(last, DEFAULT_CHANGES_LIMIT)
                        .map(|(list, _)| list)
                })
                .await;
                match read {
                    Ok(Ok(list)) if !list.is_empty() => queue.extend(list),
                    Ok(Ok(_)) => {
                        if notices.changed().await.is_err() {
                            return None;
                        }
                    }
                    _ => return None, // the store failed: the client reconnects with Last-Event-ID
                }
            }
        },
    );
    let stream = warp::sse::keep_alive()
        .interval(std::time::Duration::from_secs(15))
        .stream(events);
    let mut resp = warp::sse::reply(stream).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        warp::http::HeaderValue::from_static("no-store"),
    );
    resp
}
