//! `kie upload` and `kie upload-url`.

use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use kie_async::{Client, Error, UploadOptions, UploadResult, UploadSource};

use crate::cli::{UploadArgs, UploadUrlArgs};
use crate::exit::{Exit, classify};
use crate::output::{self, ErrorObject, FailedLine, UploadedLine};
use crate::progress::{Terminal, UploadBars};

/// One file to upload, found on the command line or in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// The local file.
    pub path: PathBuf,
    /// Its size when it was listed (for the total bar).
    pub size: u64,
    /// The `uploadPath`: `--path`, plus the subdirectory it was found in.
    pub upload_path: String,
    /// The stored name: `--name`, or the local file's name.
    pub file_name: String,
}

/// The files the arguments name, in order (a directory's entries sorted by name), and the
/// arguments that could not be read. A directory contributes its files, and with
/// `recursive` its subdirectories' files under `<upload_path>/<subdirectory>`. Symbolic
/// links to files are followed; links to directories are not (no cycles).
pub fn list_files(
    paths: &[PathBuf],
    recursive: bool,
    upload_path: &str,
) -> (Vec<LocalFile>, Vec<(PathBuf, std::io::Error)>) {
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                walk(path, recursive, upload_path, &mut files, &mut unreadable)
            }
            Ok(meta) => files.push(local_file(path.clone(), meta.len(), upload_path)),
            Err(error) => unreadable.push((path.clone(), error)),
        }
    }
    (files, unreadable)
}

fn walk(
    dir: &Path,
    recursive: bool,
    upload_path: &str,
    files: &mut Vec<LocalFile>,
    unreadable: &mut Vec<(PathBuf, std::io::Error)>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => return unreadable.push((dir.to_owned(), error)),
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                if recursive && !link {
                    let sub = path
                        .file_name()
                        .map(|name| name.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let sub_path = format!("{upload_path}/{sub}");
                    walk(&path, recursive, &sub_path, files, unreadable);
                }
            }
            Ok(meta) if meta.is_file() => files.push(local_file(path, meta.len(), upload_path)),
            // Sockets, FIFOs, devices: not files to upload.
            Ok(_) => {}
            // A dangling link inside a directory: nothing to upload.
            Err(_) if link => {}
            Err(error) => unreadable.push((path, error)),
        }
    }
}

fn local_file(path: PathBuf, size: u64, upload_path: &str) -> LocalFile {
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    LocalFile {
        path,
        size,
        upload_path: upload_path.to_owned(),
        file_name,
    }
}

/// `kie upload`: every file through [`Client::upload_many`]; results printed as they
/// complete (`--json`) or as a table at the end; failures listed on stderr at the end.
pub async fn upload(
    client: &Client,
    args: UploadArgs,
    json: bool,
    quiet: bool,
    terminal: &Terminal,
) -> Exit {
    let (mut files, unreadable) = list_files(&args.paths, args.recursive, &args.upload_path);
    if let Some(name) = &args.name {
        if args.paths.len() != 1 || args.paths.iter().any(|path| path.is_dir()) {
            return usage(
                "--name names one file; it cannot be used with several files or a directory",
            );
        }
        if let Some(local_file) = files.first_mut() {
            local_file.file_name.clone_from(name);
        }
    }

    if files.is_empty() && unreadable.is_empty() {
        let hint = if args.recursive {
            ""
        } else {
            " (-r uploads subdirectories too)"
        };
        return usage(&format!(
            "nothing to upload: no files in the given directories{hint}"
        ));
    }

    let mut failures: Vec<(String, Error)> = unreadable
        .into_iter()
        .map(|(path, source)| {
            let error = Error::Io {
                path: Some(path.clone()),
                source,
            };
            (path.display().to_string(), error)
        })
        .collect();
    if json {
        for (path, error) in &failures {
            output::print_json(&FailedLine {
                path: Some(path),
                error: ErrorObject::new(error),
            });
        }
    }

    let names: Vec<(String, u64)> = files
        .iter()
        .map(|local_file| (local_file.file_name.clone(), local_file.size))
        .collect();
    let bars = UploadBars::new(terminal, &names);
    let base64 = args.base64 || args.data_url;
    let uploads: Vec<(UploadSource, UploadOptions)> = files
        .iter()
        .enumerate()
        .map(|(index, local_file)| {
            let mut options = options_for(&args, local_file);
            if let Some(callback) = bars.callback(index) {
                options = options.on_progress(callback);
            }
            let source = if base64 {
                UploadSource::Base64Path(local_file.path.clone())
            } else {
                UploadSource::Path(local_file.path.clone())
            };
            (source, options)
        })
        .collect();

    let mut results: Vec<Option<UploadResult>> = vec![None; files.len()];
    let mut stream = client.upload_many(uploads, usize::from(args.concurrency));
    while let Some((index, result)) = stream.next().await {
        let path = files.get(index).map_or_else(String::new, |local_file| {
            local_file.path.display().to_string()
        });
        bars.finished(index, result.is_ok());
        match result {
            Ok(uploaded) => {
                if json {
                    output::print_json(&UploadedLine::new(&path, &uploaded));
                }
                if let Some(slot) = results.get_mut(index) {
                    *slot = Some(uploaded);
                }
            }
            Err(error) => {
                if json {
                    output::print_json(&FailedLine {
                        path: Some(&path),
                        error: ErrorObject::new(&error),
                    });
                }
                failures.push((path, error));
            }
        }
    }
    bars.finish();

    let succeeded: Vec<(String, &UploadResult)> = files
        .iter()
        .zip(&results)
        .filter_map(|(local_file, result)| {
            Some((local_file.path.display().to_string(), result.as_ref()?))
        })
        .collect();
    if !json && !succeeded.is_empty() {
        let rows: Vec<(&str, &UploadResult)> =
            succeeded.iter().map(|(p, r)| (p.as_str(), *r)).collect();
        output::print_text(&output::table(&rows));
    }
    for (path, error) in &failures {
        output::report_error(Some(path), error, None);
    }
    if !quiet && !failures.is_empty() && failures.len() + succeeded.len() > 1 {
        eprintln!(
            "kie: {} of {} uploads failed",
            failures.len(),
            failures.len() + succeeded.len()
        );
    }
    Exit::combine(
        succeeded.len(),
        failures.iter().map(|(_, error)| classify(error).exit),
    )
}

/// The options of one local_file: its folder and name, and the flags' settings (`--verify` is
/// the SDK's download-and-compare, so a difference is its `Error::Integrity`).
fn options_for(args: &UploadArgs, local_file: &LocalFile) -> UploadOptions {
    let mut options = UploadOptions::new(local_file.upload_path.as_str())
        .file_name(local_file.file_name.as_str())
        .data_url(args.data_url)
        .verify_download(args.verify);
    if let Some(mime) = &args.mime {
        options = options.mime_type(mime.as_str());
    }
    options
}

/// `kie upload-url`.
pub async fn upload_url(client: &Client, args: UploadUrlArgs, json: bool) -> Exit {
    let mut options = UploadOptions::new(args.upload_path.as_str());
    if let Some(name) = &args.name {
        options = options.file_name(name.as_str());
    }
    match client.upload_url(&args.url, &options).await {
        Ok(uploaded) => {
            if json {
                output::print_json(&UploadedLine::new(&args.url, &uploaded));
            } else {
                output::print_text(&output::table(&[(args.url.as_str(), &uploaded)]));
            }
            Exit::Success
        }
        Err(error) => {
            if json {
                output::print_json(&FailedLine {
                    path: Some(&args.url),
                    error: ErrorObject::new(&error),
                });
            }
            output::report_error(Some(&args.url), &error, None);
            classify(&error).exit
        }
    }
}

fn usage(message: &str) -> Exit {
    eprintln!("kie: {message}");
    Exit::Usage
}
