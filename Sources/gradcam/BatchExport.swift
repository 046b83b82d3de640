import ArgumentParser
import Explain
import Export
import Foundation
import Models

/// Many images (or image–question pairs) explained into one folder each.
struct BatchExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Explain many images, one export directory per item; shardable and resumable.",
        discussion: """
            --images is a folder (its .jpg, .jpeg and .png files, sorted by name) or a text file \
            with one image path per line. For a VQA model, --questions is a JSON file: \
            [{"image": "path", "question": "…"}, …]. Item i goes to OUT/<image name> (VQA: \
            OUT/<image name>-q<i>). --shard I/N (0 ≤ I < N) takes the items whose index is I \
            modulo N, so N copies can run side by side under any batch scheduler; --resume skips \
            items whose export is complete. Each export is written atomically, so an interrupted \
            run leaves no partial item.

            Examples:
              gradcam export --model Models/shapes-captioner \\
                  --images notebooks-cli/images --out out/batch
              gradcam export --model Models/shapes-vqa --questions qs.json \\
                  --out out/vqa --shard 0/4 --resume
            """)

    @Option(help: "A model directory (any task).") var model: String
    @Option(help: "A folder of images or a file listing image paths.") var images: String?
    @Option(help: "VQA: a JSON file of {\"image\", \"question\"} objects.") var questions: String?
    @Option(help: "Shard I/N: take the items whose index modulo N is I.") var shard: String = "0/1"
    @Flag(help: "Skip items whose export is already complete.") var resume = false
    @Option(help: "Captioning: beam size.") var beam = 3
    @Option(help: "VQA and classification: explain the K best answers or classes.") var top = 1
    @OptionGroup var flags: ExplainFlags

    func parsedShard() throws -> (index: Int, count: Int) {
        let parts = shard.split(separator: "/").map { Int($0) }
        guard parts.count == 2, let i = parts[0], let n = parts[1], n >= 1, i >= 0, i < n else {
            throw ValidationError("--shard must be I/N with 0 ≤ I < N (e.g. 0/4), got \(shard)")
        }
        return (i, n)
    }

    func validate() throws {
        _ = try parsedShard()
        guard flags.out != nil else { throw ValidationError("export needs --out DIR") }
        guard (images == nil) != (questions == nil) else { throw ValidationError("give --images (caption, classify) or --questions (vqa)") }
        guard beam >= 1, top >= 1 else { throw ValidationError("--beam and --top must be at least 1") }
    }

    struct Item { let image: String; let question: String?; let name: String }

    func items() throws -> [Item] {
        if let questions {
            guard let data = FileManager.default.contents(atPath: questions),
                  let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
                throw CLIError("\(questions): expected a JSON array of {\"image\": …, \"question\": …} objects")
            }
            return try list.enumerated().map { i, entry in
                guard let image = entry["image"] as? String, let q = entry["question"] as? String else {
                    throw CLIError("\(questions): item \(i) needs \"image\" and \"question\" strings")
                }
                return Item(image: image, question: q, name: safeName(image) + "-q\(i)")
            }
        }
        let source = images!
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw CLIError("\(source): no such folder or file")
        }
        let paths: [String]
        if isDirectory.boolValue {
            paths = try FileManager.default.contentsOfDirectory(atPath: source).sorted()
                .filter { ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased()) }
                .map { (source as NSString).appendingPathComponent($0) }
        } else {
            guard let text = try? String(contentsOfFile: source, encoding: .utf8) else {
                throw CLIError("\(source): cannot read the list of images (UTF-8 text, one path per line)")
            }
            paths = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        guard !paths.isEmpty else { throw CLIError("\(source): no images (.jpg, .jpeg, .png) found") }
        return paths.map { Item(image: $0, question: nil, name: safeName($0)) }
    }

    /// The image's file name without extension, safe as a folder name.
    func safeName(_ path: String) -> String {
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return String(stem.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) ? Character($0) : "_" })
    }

    func run() throws {
        let (index, count) = try parsedShard()
        let out = flags.out!
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw CLIError("\(out) exists and is not a directory") }
            guard resume || flags.force else {
                throw CLIError("\(out) exists; use --resume to finish it or --force to overwrite its items")
            }
        }
        let dir = try loadModel(model, task: "", hashing: true)
        let all = try items()
        let mine = all.enumerated().filter { $0.offset % count == index }.map(\.element)
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            throw CLIError("cannot create \(out)", error)
        }
        let bar = ProgressBar("export", total: mine.count, quiet: flags.quiet)
        var done = 0, skipped = 0, failed: [String] = []
        for item in mine {
            let target = (out as NSString).appendingPathComponent(item.name)
            if resume && FileManager.default.fileExists(atPath: target + "/manifest.json") {
                skipped += 1
            } else {
                do {
                    try explain(item, model: dir, to: target)
                } catch {
                    // Image errors name the file already.
                    failed.append("\(error)")
                    if !flags.quiet { Terminal.warn("\(error)") }
                }
            }
            done += 1
            bar.update(done)
        }
        bar.finish()
        if !flags.quiet {
            print("exported \(mine.count - skipped - failed.count) items to \(out) (shard \(index)/\(count) of \(all.count) items"
                + (skipped > 0 ? ", \(skipped) already complete" : "") + (failed.isEmpty ? ")" : ", \(failed.count) failed)"))
        }
        if !failed.isEmpty { throw CLIError("\(failed.count) of \(mine.count) items failed; the first: \(failed[0])") }
    }

    func explain(_ item: Item, model dir: ModelDirectory, to target: String) throws {
        let image = try LoadedImage(path: item.image, model: dir)
        var itemFlags = flags
        itemFlags.json = false
        itemFlags.quiet = true
        itemFlags.force = flags.force || resume
        switch dir.config.task {
        case .captioning:
            let s = try CaptionTask(model: dir).explain(image: image.input, caption: nil, beam: beam, nbest: 1,
                                                        maxLength: nil, includeEnd: false, score: flags.score ?? .logprob,
                                                        options: flags.options())[0]
            try emit(s, task: .captioning, image: image, model: dir, flags: itemFlags, score: flags.score ?? .logprob, out: target)
        case .vqa:
            let task = try VQATask(model: dir)
            let read = try task.read(item.question ?? "")
            let s = try task.explain(image: image.input, question: read, answer: nil, top: top, score: flags.score ?? .logit,
                                     options: flags.options())
            try emit(s, task: .vqa, image: image, model: dir, flags: itemFlags, score: flags.score ?? .logit, question: read, out: target)
        case .classification:
            let s = try ClassifyTask(model: dir).explain(image: image.input, className: nil, top: top,
                                                         score: flags.score ?? .logit, options: flags.options())
            try emit(s, task: .classification, image: image, model: dir, flags: itemFlags, score: flags.score ?? .logit, out: target)
        }
    }
}
