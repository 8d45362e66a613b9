//! kie-async's `run_many` and `create_many` against the emulator's task engine: creates
//! paced by the client's window are never refused by the service's; results come as they
//! finish; a failed task does not stop the others.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use kie_proto::task::{CreateTask, CreateWindow, PollPolicy, TaskStatus, WaitOptions};
use kie_tests::{Emulator, JobSettings, Route};
use serde_json::json;

fn emulator(limit: usize, window: Duration) -> Emulator {
    Emulator::builder()
        .jobs(JobSettings {
            stage_durations: [
                Duration::from_millis(20),
                Duration::from_millis(20),
                Duration::from_millis(100),
            ],
            create_limit: limit,
            create_window: window,
            ..JobSettings::default()
        })
        .credits(10_000.0)
        .start()
}

fn client(emulator: &Emulator) -> kie_async::Client {
    kie_async::Client::from_config(
        kie_proto::ClientConfig::new(emulator.api_key()).api_base_url(&emulator.api_base_url()),
    )
    .unwrap()
}

fn task(i: usize) -> CreateTask {
    let prompt = if i == 3 {
        "#fail400".to_owned()
    } else {
        format!("cat {i}")
    };
    CreateTask::new("google/nano-banana", json!({ "prompt": prompt })).unwrap()
}

#[tokio::test]
async fn run_many_paces_creates_and_reports_each_task() {
    let emulator = emulator(3, Duration::from_millis(500));
    let client = client(&emulator);
    let options = WaitOptions::new().policy(
        PollPolicy::default()
            .with_first_delay(Duration::from_millis(50))
            .with_min_gap(Duration::from_millis(20)),
    );
    let window = CreateWindow::new(3, Duration::from_millis(500));
    let started = Instant::now();
    let results: Vec<_> = client
        .run_many((0..8).map(task), 8, window, options)
        .collect()
        .await;
    assert_eq!(results.len(), 8);
    for (index, result) in results {
        let view = result.unwrap();
        if index == 3 {
            assert!(matches!(view.status, TaskStatus::Failed { .. }), "{view:?}");
        } else {
            assert_eq!(view.status, TaskStatus::Succeeded, "{index}");
        }
    }
    // 8 creates at 3 per 0.5 s take at least two full windows, and none was refused.
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    let creates: Vec<_> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.route == Some(Route::CreateTask))
        .collect();
    assert_eq!(creates.len(), 8);
    assert!(
        creates.iter().all(|r| r.response_code == Some(200)),
        "a create was refused"
    );
}

#[tokio::test]
async fn create_many_yields_every_reference() {
    let emulator = emulator(20, Duration::from_secs(10));
    let client = client(&emulator);
    let refs: Vec<_> = client
        .create_many((0..5).map(task), 2, CreateWindow::default())
        .map(|(index, created)| (index, created.unwrap()))
        .collect()
        .await;
    let mut indexes: Vec<usize> = refs.iter().map(|(i, _)| *i).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, [0, 1, 2, 3, 4]);
    for (_, task) in refs {
        assert_eq!(client.get_task(&task).await.unwrap().task(), &task);
    }
}
