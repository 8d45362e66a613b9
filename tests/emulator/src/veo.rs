//! The Veo 3.1 renderer of the task engine (families spec §2.1): `generate` and `extend`
//! create tasks on the same engine as Market (clock, markers, credits, create window,
//! callbacks), `record-info` renders them with `successFlag`, `get-1080p-video` answers
//! "processing" until `veo_upgrade_delay` after success, and `get-4k-video` starts a 4K
//! task of its own, whose repeat answers 422 ("processing", or "generated successfully"
//! with the URLs). The pages' contradictions are switchable ([`crate::JobQuirks`]).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::jobs::{
    Admission, Outcome, Output, Stage, Task, TaskFamily, admit, callback_url, envelope,
    input_paths, json_request, missing_field_text, query_param, result_bytes, results,
    store_generated,
};
use crate::log::Record;
use crate::server::{BodyReader, Reply, Shared};
use crate::storage::random_hex;
use crate::{ErrorStyle, JobQuirks};

/// Which Veo task a task is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum VeoKind {
    /// A video from a prompt.
    Generate,
    /// The continuation of the video of task `source`.
    Extend { source: String },
    /// The 4K version of the video of task `source`.
    FourK { source: String },
}

/// The generation models and their prices (credits).
const MODELS: &[(&str, f64)] = &[("veo3", 250.0), ("veo3_fast", 60.0), ("veo3_lite", 30.0)];
const ASPECT_RATIOS: &[&str] = &["16:9", "9:16", "Auto"];
const GENERATION_TYPES: &[&str] = &[
    "TEXT_2_VIDEO",
    "FIRST_AND_LAST_FRAMES_2_VIDEO",
    "REFERENCE_2_VIDEO",
];
const EXTEND_MODELS: &[&str] = &["fast", "quality", "lite"];
const PROCESSING_1080P: &str =
    "1080P is processing. It should be ready in 1-2 minutes. Please check back shortly.";

/// Handles `POST /api/v1/veo/generate` and `POST /api/v1/veo/extend` (authorized already).
pub(crate) async fn create(
    shared: &Shared,
    parts: &http::request::Parts,
    body: &mut BodyReader,
    rec: &mut Record,
    style: ErrorStyle,
    extend: bool,
) -> Reply {
    let settings = shared.settings().jobs.clone();
    let invalid = |code: u16, msg: &str| Reply::api_error(style, code, msg);
    let fields = match json_request(shared, parts, body, rec, style).await {
        Ok(fields) => fields,
        Err(refused) => return refused,
    };
    let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_owned);
    let missing = |field| {
        invalid(
            settings.missing_field_code,
            missing_field_text(settings.missing_field_code, field),
        )
    };
    let Some(prompt) = text("prompt").filter(|p| !p.trim().is_empty()) else {
        return missing("prompt");
    };
    let callback_url = match callback_url(&fields, style) {
        Ok(url) => url,
        Err(refused) => return refused,
    };
    let (kind, model, price) = if extend {
        let Some(source) = text("taskId") else {
            return missing("taskId");
        };
        if let Some(model) = text("model").filter(|m| !EXTEND_MODELS.contains(&m.as_str())) {
            return invalid(422, &format!("model {model} is not supported for extend"));
        }
        if let Err(refused) = succeeded_source(shared, &source, style) {
            return refused;
        }
        let model = text("model").unwrap_or_else(|| "fast".to_owned());
        (VeoKind::Extend { source }, model, 60.0)
    } else {
        let model = text("model").unwrap_or_else(|| "veo3_fast".to_owned());
        let Some((_, price)) = MODELS.iter().find(|(name, _)| *name == model) else {
            return invalid(422, &format!("model {model} is not supported"));
        };
        let images = match fields.get("imageUrls") {
            None | Some(Value::Null) => 0,
            Some(Value::Array(urls)) if urls.iter().all(Value::is_string) => urls.len(),
            Some(_) => return invalid(422, "imageUrls must be a list of URLs"),
        };
        if images > 3 {
            return invalid(422, "imageUrls takes at most 3 images");
        }
        for (field, allowed) in [
            ("aspect_ratio", ASPECT_RATIOS),
            ("generationType", GENERATION_TYPES),
        ] {
            if let Some(value) = text(field).filter(|v| !allowed.contains(&v.as_str())) {
                return invalid(422, &format!("{field} {value} is not supported"));
            }
        }
        (VeoKind::Generate, model, *price)
    };
    let admission = Admission {
        id: format!("veo_task_{}", random_hex(12)),
        family: TaskFamily::Veo(kind),
        model,
        output: Output::Video,
        price,
        prompt,
        inputs: input_paths(&shared.urls.files, &Value::Object(fields.clone())),
        body: fields,
        callback_url,
    };
    match admit(shared, &settings, style, admission) {
        Ok(id) => envelope(&settings.quirks, 200, "success", json!({"taskId": id})),
        Err(refused) => refused,
    }
}

/// The task `id` if it is a Veo video that succeeded, else the documented refusal.
fn succeeded_source(shared: &Shared, id: &str, style: ErrorStyle) -> Result<(), Reply> {
    let now = shared.clock.now();
    let mut jobs = shared.jobs();
    let Some(task) = jobs
        .tasks
        .get_mut(id)
        .filter(|task| matches!(task.family, TaskFamily::Veo(_)))
    else {
        return Err(Reply::api_error(style, 422, "record is null"));
    };
    match task.stage(shared, now) {
        Stage::Done(Outcome::Success) => Ok(()),
        _ => Err(Reply::api_error(style, 422, "record status is not success")),
    }
}

/// Handles `GET /api/v1/veo/record-info` (authorized already).
pub(crate) fn record_info(
    shared: &Shared,
    parts: &http::request::Parts,
    style: ErrorStyle,
) -> Reply {
    let settings = shared.settings().jobs.clone();
    let Some(id) = query_param(parts, "taskId").filter(|id| !id.is_empty()) else {
        return Reply::api_error(style, 400, "taskId parameter is required");
    };
    let now = shared.clock.now();
    let mut jobs = shared.jobs();
    let Some(task) = jobs
        .tasks
        .get_mut(&id)
        .filter(|task| matches!(task.family, TaskFamily::Veo(_)))
    else {
        return envelope(&settings.quirks, 422, "record is null", Value::Null);
    };
    if !task.visible(settings.not_visible_polls) {
        return envelope(&settings.quirks, 422, "record is null", Value::Null);
    }
    let data = render_record(shared, task, now, &settings.quirks);
    envelope(&settings.quirks, 200, "success", data)
}

/// The Veo record of `task` at `now`.
fn render_record(shared: &Shared, task: &mut Task, now: SystemTime, quirks: &JobQuirks) -> Value {
    let stage = task.stage(shared, now);
    let time = |t: SystemTime| time_value(t, quirks);
    let mut data = Map::new();
    data.insert("taskId".to_owned(), json!(task.id));
    data.insert(
        "paramJson".to_owned(),
        json!(Value::Object(task.body.clone()).to_string()),
    );
    data.insert("createTime".to_owned(), time(task.created));
    data.insert("fallbackFlag".to_owned(), json!(false));
    data.insert("errorCode".to_owned(), Value::Null);
    data.insert("errorMessage".to_owned(), json!(""));
    let flag = match stage {
        Stage::Running(..) => 0,
        Stage::Done(outcome) => {
            data.insert("completeTime".to_owned(), time(task.end()));
            match outcome {
                Outcome::Fail { code, message } => {
                    task.refund(shared);
                    data.insert(
                        "errorCode".to_owned(),
                        json!(code.parse::<u16>().unwrap_or(500)),
                    );
                    data.insert("errorMessage".to_owned(), json!(message));
                    2
                }
                Outcome::FailUpstream => {
                    task.refund(shared);
                    data.insert(
                        "errorMessage".to_owned(),
                        json!("upstream generation failed"),
                    );
                    3
                }
                _ => {
                    let (urls, full, origin) = videos(shared, task);
                    let mut response = Map::new();
                    response.insert("taskId".to_owned(), json!(task.id));
                    if quirks.veo_result_urls_string {
                        data.insert("resultUrls".to_owned(), json!(json!(urls).to_string()));
                    } else {
                        response.insert("resultUrls".to_owned(), json!(urls));
                    }
                    if !full.is_empty() {
                        response.insert("fullResultUrls".to_owned(), json!(full));
                    }
                    if !origin.is_empty() {
                        response.insert("originUrls".to_owned(), json!(origin));
                    }
                    response.insert("resolution".to_owned(), json!(resolution(task)));
                    data.insert("response".to_owned(), Value::Object(response));
                    1
                }
            }
        }
    };
    data.insert("successFlag".to_owned(), json!(flag));
    Value::Object(data)
}

/// Epoch milliseconds, or `"YYYY-MM-DD HH:mm:ss"` (UTC) with the quirk.
fn time_value(t: SystemTime, quirks: &JobQuirks) -> Value {
    let millis = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    if !quirks.veo_times_text {
        return json!(u64::try_from(millis).unwrap_or(u64::MAX));
    }
    let seconds = i64::try_from(millis / 1000).unwrap_or(0);
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    json!(format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    ))
}

fn resolution(task: &Task) -> String {
    match &task.family {
        TaskFamily::Veo(VeoKind::FourK { .. }) => "4k".to_owned(),
        _ => task
            .body
            .get("resolution")
            .and_then(Value::as_str)
            .unwrap_or("720p")
            .to_owned(),
    }
}

/// The videos of a succeeded Veo task (made on first use): results, the whole video of an
/// extend, and the originals of a video not in 16:9.
fn videos(shared: &Shared, task: &mut Task) -> (Vec<String>, Vec<String>, Vec<String>) {
    let urls: Vec<String> = results(shared, task)["resultUrls"]
        .as_array()
        .map(|urls| {
            urls.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mut storage = shared.storage();
    let mut extra = |name: &str, index: usize| {
        let data = result_bytes(&task.id, index, Output::Video);
        store_generated(shared, &mut storage, &task.id, name, data, "video/mp4")
    };
    let full = match &task.family {
        TaskFamily::Veo(VeoKind::Extend { .. }) => vec![extra("full-0.mp4", 100)],
        _ => Vec::new(),
    };
    let ratio = task
        .body
        .get("aspect_ratio")
        .and_then(Value::as_str)
        .unwrap_or("16:9");
    let origin = if ratio == "16:9" {
        Vec::new()
    } else {
        vec![extra("origin-0.mp4", 200)]
    };
    (urls, full, origin)
}

/// Handles `GET /api/v1/veo/get-1080p-video` (authorized already).
pub(crate) fn get_1080p(shared: &Shared, parts: &http::request::Parts, style: ErrorStyle) -> Reply {
    let settings = shared.settings().jobs.clone();
    let Some(id) = query_param(parts, "taskId").filter(|id| !id.is_empty()) else {
        return Reply::api_error(style, 400, "taskId parameter is required");
    };
    let index = query_param(parts, "index")
        .and_then(|i| i.parse::<usize>().ok())
        .unwrap_or(0);
    if let Err(refused) = succeeded_source(shared, &id, style) {
        return refused;
    }
    let now = shared.clock.now();
    let mut jobs = shared.jobs();
    let Some(task) = jobs.tasks.get_mut(&id) else {
        return Reply::api_error(style, 422, "record is null");
    };
    if now < task.end() + settings.veo_upgrade_delay {
        return Reply::api_error(style, 400, PROCESSING_1080P);
    }
    let data = result_bytes(&task.id, 1080 + index, Output::Video);
    let url = store_generated(
        shared,
        &mut shared.storage(),
        &id,
        &format!("result-{index}-1080p.mp4"),
        data,
        "video/mp4",
    );
    envelope(&settings.quirks, 200, "success", json!({"resultUrl": url}))
}

/// Handles `POST /api/v1/veo/get-4k-video` (authorized already).
pub(crate) async fn get_4k(
    shared: &Shared,
    parts: &http::request::Parts,
    body: &mut BodyReader,
    rec: &mut Record,
    style: ErrorStyle,
) -> Reply {
    let settings = shared.settings().jobs.clone();
    let invalid = |code: u16, msg: &str| Reply::api_error(style, code, msg);
    let fields = match json_request(shared, parts, body, rec, style).await {
        Ok(fields) => fields,
        Err(refused) => return refused,
    };
    let Some(source) = fields
        .get("taskId")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return invalid(
            settings.missing_field_code,
            missing_field_text(settings.missing_field_code, "taskId"),
        );
    };
    if let Err(refused) = succeeded_source(shared, &source, style) {
        return refused;
    }
    let now = shared.clock.now();
    let upgrade = {
        let mut jobs = shared.jobs();
        let upgrade = jobs
            .tasks
            .values()
            .find(|task| {
                task.family
                    == TaskFamily::Veo(VeoKind::FourK {
                        source: source.clone(),
                    })
            })
            .map(|task| task.id.clone());
        match upgrade.and_then(|id| jobs.tasks.get_mut(&id)) {
            Some(task) => Some(match task.stage(shared, now) {
                Stage::Done(Outcome::Success) => {
                    Ok((task.id.clone(), results(shared, task)["resultUrls"].clone()))
                }
                _ => Err(task.id.clone()),
            }),
            None => None,
        }
    };
    match upgrade {
        // Asking again: 422 either way, with the URLs once done.
        Some(Ok((id, urls))) => envelope(
            &settings.quirks,
            422,
            "The video has been generated successfully",
            json!({"taskId": id, "resultUrls": urls, "imageUrls": null}),
        ),
        Some(Err(_)) => invalid(
            422,
            "4k is processing. It should be ready in 5-10 minutes. Please check back shortly.",
        ),
        None => {
            let callback_url = fields
                .get("callBackUrl")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let admission = Admission {
                id: format!("veo_task_{}", random_hex(12)),
                family: TaskFamily::Veo(VeoKind::FourK { source }),
                model: "veo3_4k".to_owned(),
                output: Output::Video,
                price: 120.0,
                prompt: String::new(),
                inputs: Vec::new(),
                body: fields,
                callback_url,
            };
            match admit(shared, &settings, style, admission) {
                Ok(id) => envelope(
                    &settings.quirks,
                    200,
                    "success",
                    json!({"taskId": id, "resultUrls": null, "imageUrls": null}),
                ),
                Err(refused) => refused,
            }
        }
    }
}

/// The Veo callback body of a finished task: code 200 with `data.info` (the videos), or
/// the failure's code and message with only the task id.
pub(crate) fn callback_body(shared: &Shared, task: &mut Task, quirks: &JobQuirks) -> String {
    let end = task.end();
    let stage = task.stage(shared, end);
    let body = match stage {
        Stage::Done(Outcome::Fail { code, message }) => {
            let code = code.parse::<u16>().unwrap_or(500);
            json!({"code": code, "msg": message, "data": {"taskId": task.id, "fallbackFlag": false}})
        }
        Stage::Done(Outcome::FailUpstream) => json!({
            "code": 501, "msg": "Video generation failed upstream",
            "data": {"taskId": task.id, "fallbackFlag": false},
        }),
        _ => {
            let (urls, _, origin) = videos(shared, task);
            let list = |urls: Vec<String>| {
                if quirks.veo_callback_urls_string {
                    json!(format!("[{}]", urls.join(",")))
                } else {
                    json!(urls)
                }
            };
            let mut info = Map::new();
            info.insert("resultUrls".to_owned(), list(urls));
            if !origin.is_empty() {
                info.insert("originUrls".to_owned(), list(origin));
            }
            info.insert("resolution".to_owned(), json!(resolution(task)));
            json!({
                "code": 200,
                "msg": "Veo3.1 video generated successfully.",
                "data": {"taskId": task.id, "info": info, "fallbackFlag": false},
            })
        }
    };
    body.to_string()
}
