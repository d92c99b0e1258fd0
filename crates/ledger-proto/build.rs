//! Compiles `proto/si/ledger/v1/*.proto` with protox (pure Rust: no `protoc`
//! needed on a fresh machine) into prost types plus pbjson serde impls.
use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        root.join("si/ledger/v1/common.proto"),
        root.join("si/ledger/v1/events.proto"),
        root.join("si/ledger/v1/reporting.proto"),
        root.join("si/ledger/v1/notices.proto"),
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let descriptors = protox::compile(&files, [&root])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let descriptor_path = out.join("si_ledger_descriptor.bin");
    std::fs::write(
        &descriptor_path,
        prost::Message::encode_to_vec(&descriptors),
    )?;

    prost_build::Config::new()
        .file_descriptor_set_path(&descriptor_path)
        .skip_protoc_run()
        .compile_fds(descriptors)?;
    let set = std::fs::read(&descriptor_path)?;
    pbjson_build::Builder::new()
        .register_descriptors(&set)?
        .build(&[".si.ledger.v1"])?;
    Ok(())
}
