@testable import Explain
import Export
import Foundation
import Imaging
import Tensor
import XCTest

/// A fresh directory under the system's temporary directory, removed by the caller.
func makeTemporaryDirectory(_ name: String = "export-tests") throws -> String {
    let path = NSTemporaryDirectory() + "/" + name + "-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A 40×30 image with a colour ramp, so overlays differ from a blank canvas.
func rampImage(width: Int = 40, height: Int = 30) -> RGBImage {
    var pixels = [UInt8]()
    for y in 0..<height {
        for x in 0..<width {
            pixels += [UInt8(x * 255 / max(width - 1, 1)), UInt8(y * 255 / max(height - 1, 1)), 128]
        }
    }
    return RGBImage(width: width, height: height, pixels: pixels)
}

/// A hand-made explanation: input 32×32, layer 4×4, entry k's raw map peaking
/// at (k mod 4, 3 − k mod 4), cams its ReLU upsampled by repetition and scaled to [0, 1].
func syntheticExplanation(labels: [String], method: Method = .gradcam,
                          input: (height: Int, width: Int) = (32, 32)) -> Explanation {
    let t = labels.count, (h, w) = (4, 4), (H, W) = input
    func peak(_ k: Int) -> (Int, Int) { (k % h, 3 - k % w) }
    var raw = [Float](), cams = [Float]()
    for k in 0..<t {
        let peak = peak(k)
        let map = (0..<(h * w)).map { i -> Float in
            Float(2 - abs(i / w - peak.0) - abs(i % w - peak.1)) * 0.5
        }
        raw += map
        let top = map.max() ?? 1
        cams += (0..<(H * W)).map { i in max(map[(i / W) * h / H * w + (i % W) * w / W], 0) / top }
    }
    let entries = labels.enumerated().map { k, label in
        Explanation.Entry(label: label, id: 10 + k, score: -0.25 * Float(k + 1), camMax: 1,
                          peak: method.hasLayerMap ? [peak(k).0, peak(k).1] : [])
    }
    let guided = method.needsGuidedGradient
        ? Tensor(shape: [t, 3, H, W], values: (0..<(t * 3 * H * W)).map { Float($0 % 7) - 3 }) : nil
    return Explanation(method: method, layer: "backbone.features.12", inputSize: (H, W),
                       layerSize: method.hasLayerMap ? (h, w) : nil,
                       raw: method.hasLayerMap ? Tensor(shape: [t, h, w], values: raw) : nil,
                       cams: method.hasLayerMap ? Tensor(shape: [t, H, W], values: cams) : nil,
                       guided: guided, entries: entries)
}

/// A captioning document for `labels`, with every optional part filled in.
func captionDocument(labels: [String], method: Method = .gradcam, image: RGBImage = rampImage(),
                     input: (height: Int, width: Int) = (32, 32)) -> ExportDocument {
    ExportDocument(task: .captioning, imagePath: "images/scene 1.png", image: image,
                   modelPath: "Models/shapes-captioner", weightsSHA256: String(repeating: "ab", count: 32),
                   explanation: syntheticExplanation(labels: labels, method: method, input: input),
                   score: .logprob, text: labels.joined(separator: " "),
                   logprobs: labels.indices.map { -0.25 * Float($0 + 1) },
                   beam: .init(size: 3, rank: 0, logprob: -1.93))
}

/// Runs a program found on PATH; nil when it is not installed.
func runProgram(_ program: String, _ arguments: [String], timeout: TimeInterval = 60) throws
    -> (status: Int32, stdout: String, stderr: String)?
{
    guard let executable = findOnPath(program) else { return nil }
    let dir = try makeTemporaryDirectory("run")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let outPath = dir + "/stdout", errPath = dir + "/stderr"
    try Data().write(to: URL(fileURLWithPath: outPath))
    try Data().write(to: URL(fileURLWithPath: errPath))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    // Files, not pipes: a page's DOM can be larger than a pipe's buffer.
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    if process.isRunning {
        process.terminate()
        XCTFail("\(program) did not finish within \(timeout) s")
    }
    process.waitUntilExit()
    let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    return (process.terminationStatus, read(outPath), read(errPath))
}

func findOnPath(_ program: String) -> String? {
    let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    return dirs.map { "\($0)/\(program)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Reads `path` as a JSON object.
func readJSON(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any], file: file, line: line)
}

/// The entries of a directory other than "." and "..", sorted.
func listing(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}
