// swift-tools-version:6.0
import Foundation
import PackageDescription

// libFuzzer harnesses for the parsers of untrusted input, one executable per
// harness. Build and run them with scripts/fuzz.sh (which passes
// `--sanitize fuzzer --sanitize address`); each harness defines
// `LLVMFuzzerTestOneInput` and libFuzzer supplies `main`.
//
// The main package is a path dependency; its identity is the name of the
// folder it is checked out in, so it is computed rather than spelled out.
let mainPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let harnesses = ["fuzz-jpeg", "fuzz-png", "fuzz-safetensors", "fuzz-config", "fuzz-tokenizer", "fuzz-coco", "fuzz-vqa", "fuzz-torch"]

let package = Package(
    name: "gradcam-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(path: "..")],
    targets: harnesses.map { name in
        .executableTarget(
            name: name,
            dependencies: [.product(name: "GradCAMKit", package: mainPackage)],
            path: "Sources/\(name)",
            // No top-level code: libFuzzer's runtime provides main().
            swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    }
)
