//! Uploads a local image, runs a generation task on it and downloads the results.
//!
//! ```text
//! cargo run -p kie-blocking --example generate -- <image> [model] [prompt]
//! ```
//!
//! - With `KIE_API_KEY` set, on KIE.AI (default model `google/nano-banana-edit`; a paid task).
//! - Without it, on a local KIE.AI emulator started in-process, whose tasks take 1.5 s
//!   instead of minutes (it says so); nothing leaves this machine.
//!
//! The results go to the current directory as `result-<n>.<ext>`.

use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use kie_blocking::kie_proto::serde_json::json;
use kie_blocking::kie_proto::task::{CreateTask, TaskInput, TaskStatus, WaitOptions};
use kie_blocking::{Client, ClientConfig, UploadOptions};
use kie_emulator::{Emulator, JobSettings};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let image = PathBuf::from(
        args.next()
            .ok_or("usage: generate <image> [model] [prompt]")?,
    );
    let model = args
        .next()
        .unwrap_or_else(|| "google/nano-banana-edit".to_owned());
    let prompt = args
        .next()
        .unwrap_or_else(|| "make it look like a watercolour".to_owned());

    // Keeps the emulator (if any) alive until the end.
    let (client, _emulator) = if std::env::var_os(kie_blocking::ENV_API_KEY)
        .is_some_and(|k| !k.is_empty())
    {
        (Client::from_env()?, None)
    } else {
        let jobs = JobSettings::default();
        let task_time: Duration = jobs.stage_durations.iter().sum();
        let emulator = Emulator::builder().jobs(jobs).start();
        eprintln!(
            "KIE_API_KEY is not set: running on a local KIE.AI emulator at {} whose tasks take {:.1} s (nothing leaves this machine).",
            emulator.api_base_url(),
            task_time.as_secs_f64()
        );
        let config = ClientConfig::new(emulator.api_key())
            .upload_base_url(&emulator.upload_base_url())
            .api_base_url(&emulator.api_base_url());
        (Client::from_config(config)?, Some(emulator))
    };

    // 1. The local image goes up first; its downloadUrl goes into the input.
    let input = TaskInput::new(json!({ "prompt": prompt }))?.file("image_urls", &image);
    let input = client.prepare_input(&input, &UploadOptions::new("kie-rs/examples"))?;
    // 2. Create and wait, reporting every change of status.
    let options = WaitOptions::new()
        .on_progress(|p| eprintln!("{}: {:?} ({:.1?})", p.task, p.status, p.elapsed));
    let view = client.run(&CreateTask::new(&model, input)?, &options)?;
    match &view.status {
        TaskStatus::Succeeded => {}
        TaskStatus::Failed {
            code,
            message,
            recreate_may_help,
            ..
        } => {
            let hint = if *recreate_may_help {
                "creating it again may work"
            } else {
                "creating it again will fail the same way"
            };
            return Err(format!("{} failed ({code:?}: {message:?}); {hint}", view.task).into());
        }
        other => return Err(format!("{}: {other:?}", view.task).into()),
    }
    // 3. The results, downloaded without the key.
    for (n, asset) in view.assets.iter().enumerate() {
        let ext = asset
            .url
            .rsplit('.')
            .next()
            .filter(|e| e.len() <= 4)
            .unwrap_or("bin");
        let path = PathBuf::from(format!("result-{n}.{ext}"));
        let bytes = client.download_result_to(&asset.url, &path)?;
        println!("{} ({bytes} bytes)", path.display());
    }
    Ok(())
}
