//! Runs N generation tasks at concurrency C against the KIE.AI endpoints of the environment
//! (`KIE_API_KEY`, `KIE_API_BASE_URL`: a `kie-emulator --task-seconds S` for benchmarks) and
//! prints what it took, next to the polls the poll policy needs at best for tasks of S
//! seconds (simulated with the policy itself, which is pure).
//!
//! ```text
//! cargo run --release -p kie-async --example run_many -- <N> <C> <task seconds>
//! ```

use std::error::Error;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use kie_async::Client;
use kie_async::kie_proto::serde_json::json;
use kie_async::kie_proto::task::{
    CreateTask, CreateWindow, PollDecision, PollPolicy, TaskRef, TaskStatus, WaitOptions,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<f64>());
    let usage = "usage: run_many <tasks> <concurrency> <task seconds>";
    let tasks = args.next().ok_or(usage)?? as usize;
    let concurrency = args.next().ok_or(usage)?? as usize;
    let task_seconds = args.next().ok_or(usage)??;
    let policy = PollPolicy::default().with_jitter(0.0);
    let client = Client::from_env()?;
    let creates = (0..tasks)
        .map(|i| CreateTask::new("google/nano-banana", json!({"prompt": format!("task {i}")})))
        .collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    // The emulator's own window is lifted for the benchmark; the client's stays wide open.
    let window = CreateWindow::new(usize::MAX, Duration::from_secs(10));
    let mut results = client.run_many(
        creates,
        concurrency,
        window,
        WaitOptions::new().policy(policy),
    );
    let mut succeeded = 0;
    while let Some((_, view)) = results.next().await {
        if view?.status == TaskStatus::Succeeded {
            succeeded += 1;
        }
    }
    let elapsed = started.elapsed();
    println!(
        "tasks={tasks} succeeded={succeeded} concurrency={concurrency} wall={:.2}s",
        elapsed.as_secs_f64()
    );
    let ideal = ideal_polls(
        &policy,
        TaskRef::market("ideal")?,
        Duration::from_secs_f64(task_seconds),
    );
    println!("ideal_polls_per_task={ideal}");
    Ok(())
}

/// The polls a wait by `policy` makes for a task that finishes `duration` after its
/// create, with instant answers: the policy's own schedule, simulated (the first poll
/// after the first delay, as for every task `run_many` has just created).
fn ideal_polls(policy: &PollPolicy, task: TaskRef, duration: Duration) -> u32 {
    let t0 = Instant::now();
    let mut state = policy.start(task, t0);
    let mut now = t0 + policy.first_delay();
    let mut polls = 0;
    loop {
        polls += 1;
        if now.duration_since(t0) >= duration {
            return polls;
        }
        let running = TaskStatus::Running {
            stage: "generating".into(),
            progress: None,
        };
        match policy.on_status(&mut state, &running, now, 0.5) {
            PollDecision::PollAfter(wait) => now += wait,
            _ => return polls,
        }
    }
}
