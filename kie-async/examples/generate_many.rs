//! Uploads the images of a directory and runs one generation task per image, at most 8 at
//! once (creates paced by the account's window), downloading the results as they finish.
//!
//! ```text
//! cargo run -p kie-async --example generate_many -- <directory> [model] [prompt]
//! ```
//!
//! - With `KIE_API_KEY` set, on KIE.AI (default model `google/nano-banana-edit`; paid tasks).
//! - Without it, on a local KIE.AI emulator started in-process, whose tasks take 1.5 s
//!   instead of minutes (it says so); nothing leaves this machine.
//!
//! Results go to the current directory as `<image stem>-result-<n>.<ext>`.

use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt as _;
use kie_async::kie_proto::serde_json::json;
use kie_async::kie_proto::task::{CreateTask, CreateWindow, TaskInput, TaskStatus, WaitOptions};
use kie_async::{Client, ClientConfig, UploadOptions};
use kie_emulator::{Emulator, JobSettings};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: generate_many <directory> [model] [prompt]")?,
    );
    let model = args
        .next()
        .unwrap_or_else(|| "google/nano-banana-edit".to_owned());
    let prompt = args
        .next()
        .unwrap_or_else(|| "make it look like a watercolour".to_owned());
    let mut images: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read the directory {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    images.sort();

    let (client, _emulator) = if std::env::var_os(kie_async::ENV_API_KEY)
        .is_some_and(|k| !k.is_empty())
    {
        (Client::from_env()?, None)
    } else {
        let jobs = JobSettings::default();
        let task_time: Duration = jobs.stage_durations.iter().sum();
        let emulator = Emulator::builder().jobs(jobs).credits(10_000.0).start();
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

    // Every image goes up first, its downloadUrl into its task's input.
    let mut creates = Vec::new();
    for image in &images {
        let input = TaskInput::new(json!({ "prompt": prompt }))?.file("image_urls", image);
        let input = client
            .prepare_input(&input, &UploadOptions::new("kie-rs/examples"))
            .await?;
        creates.push(CreateTask::new(&model, input)?);
    }
    let mut results = client.run_many(creates, 8, CreateWindow::default(), WaitOptions::new());
    let mut failed = 0;
    while let Some((index, outcome)) = results.next().await {
        let stem = images[index]
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("image")
            .to_owned();
        match outcome {
            Ok(view) if view.status == TaskStatus::Succeeded => {
                for (n, asset) in view.assets.iter().enumerate() {
                    let ext = asset
                        .url
                        .rsplit('.')
                        .next()
                        .filter(|e| e.len() <= 4)
                        .unwrap_or("bin");
                    let path = PathBuf::from(format!("{stem}-result-{n}.{ext}"));
                    let bytes = client.download_result_to(&asset.url, &path).await?;
                    println!(
                        "{}: {} ({bytes} bytes)",
                        images[index].display(),
                        path.display()
                    );
                }
            }
            Ok(view) => {
                failed += 1;
                eprintln!(
                    "{}: {} {:?}",
                    images[index].display(),
                    view.task,
                    view.status
                );
            }
            Err(error) => {
                failed += 1;
                eprintln!("{}: {error}", images[index].display());
            }
        }
    }
    if failed > 0 {
        return Err(format!("{failed} of {} tasks did not succeed", images.len()).into());
    }
    Ok(())
}
