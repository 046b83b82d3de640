import ArgumentParser
import Crypto
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
            with one image path per line (# starts a comment). For a VQA model, --questions is a \
            JSON file: [{"image": "path", "question": "…"}, …]. Relative paths in either file are \
            relative to the file's folder. Item i goes to OUT/<image name> (VQA: \
            OUT/<image name>-q<i>); images of the same name (cats/001.png, dogs/001.png) get \
            the first 8 hex digits of their path's SHA-256 after it (001-1a2b3c4d), the same in \
            every run and shard. --shard I/N (0 ≤ I < N) takes the items whose index is I \
            modulo N, so N copies can run side by side on one OUT under any batch scheduler. An \
            item already in OUT is refused unless --resume (skip it when it was made with the same \
            model and settings, redo it otherwise, and say so) or --force (redo it). Each export \
            is written atomically, so an interrupted run leaves no partial item.

            Examples:
              gradcam export --model Models/shapes-captioner \\
                  --images notebooks-cli/images --out out/batch
              gradcam export --model Models/shapes-vqa --questions qs.json \\
                  --out out/vqa --shard 0/4 --resume
            """)

    @Option(help: "A model directory (any task).") var model: String
    @Option(help: "A folder of images or a file listing image paths.") var images: String?
    @Option(help: "VQA: a JSON file of {\"image\", \"question\"} objects.") var questions: String?
    @Option(help: """
        Shard I/N: take the items whose index modulo N is I. auto takes I and N from a Slurm job array \
        (SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT); auto/N takes I from a \
        Kubernetes Indexed Job (JOB_COMPLETION_INDEX) or Slurm.
        """)
    var shard: String = "0/1"
    @Flag(help: "Skip items whose export is already complete.") var resume = false
    @Option(help: "Captioning: beam size.") var beam = 3
    @Option(help: "VQA and classification: explain the K best answers or classes.") var top = 1
    @OptionGroup var flags: ExplainFlags

    /// I/N, or `auto` (a Slurm job array's task) or `auto/N` (a Kubernetes
    /// Indexed Job's completion index, or a Slurm task, out of N).
    func parsedShard(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (index: Int, count: Int) {
        let parts = shard.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var index: Int?, count = parts.count == 2 ? Int(parts[1]) : nil
        if parts[0] == "auto" {
            if let task = environment["SLURM_ARRAY_TASK_ID"].flatMap(Int.init) {
                index = task - (environment["SLURM_ARRAY_TASK_MIN"].flatMap(Int.init) ?? 0)
                count = count ?? environment["SLURM_ARRAY_TASK_COUNT"].flatMap(Int.init)
            } else if let completion = environment["JOB_COMPLETION_INDEX"].flatMap(Int.init) {
                index = completion
            } else {
                throw ValidationError("--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX "
                                      + "(a Kubernetes Indexed Job) is set")
            }
            guard count != nil else {
                throw ValidationError("--shard auto: give the number of shards as auto/N (a Kubernetes Indexed Job's completions)")
            }
        } else if parts.count == 2 {
            index = Int(parts[0])
        }
        guard let i = index, let n = count, n >= 1, i >= 0, i < n else {
            throw ValidationError("--shard must be I/N with 0 ≤ I < N (e.g. 0/4), auto or auto/N; got \(shard)"
                                  + (index != nil ? " (index \(index!) of \(count.map(String.init) ?? "?"))" : ""))
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
            let pairs = try list.enumerated().map { i, entry -> (String, String) in
                guard let image = entry["image"] as? String, let q = entry["question"] as? String else {
                    throw CLIError("\(questions): item \(i) needs \"image\" and \"question\" strings")
                }
                return (Self.relative(to: questions, image), q)
            }
            let names = Self.itemNames(pairs.map(\.0))
            return pairs.enumerated().map { i, pair in Item(image: pair.0, question: pair.1, name: names[i] + "-q\(i)") }
        }
        let source = images!
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw CLIError("\(source): no such folder or file")
        }
        var paths: [String]
        if isDirectory.boolValue {
            paths = try FileManager.default.contentsOfDirectory(atPath: source).sorted()
                .filter { ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased()) }
                .map { (source as NSString).appendingPathComponent($0) }
        } else {
            guard let text = try? String(contentsOfFile: source, encoding: .utf8) else {
                throw CLIError("\(source): cannot read the list of images (UTF-8 text, one path per line)")
            }
            // Blank lines and lines starting with # are not paths.
            paths = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }.map { Self.relative(to: source, $0) }
        }
        // An image listed twice is explained once.
        var seen = Set<String>()
        paths = paths.filter { seen.insert(Self.identity($0)).inserted }
        guard !paths.isEmpty else { throw CLIError("\(source): no images (.jpg, .jpeg, .png) found") }
        return zip(paths, Self.itemNames(paths)).map { Item(image: $0, question: nil, name: $1) }
    }

    /// The item folders' names: each image's file name without extension, made
    /// safe; where images of different paths share one, each gets the first 8
    /// hex digits of its path's SHA-256 after it. A name depends on the whole
    /// list, never on the shard, so every shard and run gives the same names.
    static func itemNames(_ paths: [String]) -> [String] {
        let stems = paths.map(safeName)
        var pathsByStem: [String: Set<String>] = [:]
        for (stem, path) in zip(stems, paths) { pathsByStem[stem, default: []].insert(identity(path)) }
        return zip(stems, paths).map { stem, path in
            guard pathsByStem[stem]!.count > 1 else { return stem }
            let digest = SHA256.hash(data: Data(identity(path).utf8))
            return stem + "-" + digest.prefix(4).map { String(format: "%02x", $0) }.joined()
        }
    }

    /// A path read from `file`: a relative one is relative to the file's folder.
    static func relative(to file: String, _ path: String) -> String {
        let folder = (file as NSString).deletingLastPathComponent
        return path.hasPrefix("/") || folder.isEmpty ? path : (folder as NSString).appendingPathComponent(path)
    }

    /// The path as one file: absolute and standardised.
    static func identity(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

    /// The image's file name without extension, safe as a folder name.
    static func safeName(_ path: String) -> String {
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return String(stem.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) ? Character($0) : "_" })
    }

    func run() throws {
        let (index, count) = try parsedShard()
        let out = flags.out!
        var isDirectory: ObjCBool = false
        let existed = FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory)
        if existed && !isDirectory.boolValue { throw CLIError("\(out) exists and is not a directory") }
        let dir = try loadModel(model, task: "", hashing: true)
        switch (dir.config.task, questions) {
        case (.vqa, nil):
            throw CLIError("\(model) is a VQA model: give --questions FILE, a JSON list of {\"image\": …, \"question\": …}")
        case (.captioning, _?), (.classification, _?):
            throw CLIError("\(model) is a \(dir.config.task.rawValue) model, which takes --images, not --questions")
        default: break
        }
        let all = try items()
        let mine = all.enumerated().filter { $0.offset % count == index }.map(\.element)
        let target = { (item: Item) in (out as NSString).appendingPathComponent(item.name) }
        // Items already there are refused before any work, unless --resume or --force says what to do.
        if !resume && !flags.force, let first = mine.first(where: { FileManager.default.fileExists(atPath: target($0)) }) {
            throw CLIError("\(target(first)) already exists; pass --resume to skip finished items (and redo those made "
                           + "with other settings) or --force to redo them")
        }
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            throw CLIError("cannot create \(out)", error)
        }
        let bar = ProgressBar("export", total: mine.count, quiet: flags.quiet || flags.json)
        var exported: [String] = [], skipped: [String] = [], redone: [(name: String, why: String)] = []
        var failed: [(name: String, error: String)] = []
        for (k, item) in mine.enumerated() {
            defer { bar.update(k + 1) }
            var why: String?
            if resume, let manifest = readManifest(target(item)) {
                why = settingsDifference(manifest, item: item, model: dir)
                if why == nil {
                    skipped.append(item.name)
                    continue
                }
            }
            do {
                try explain(item, model: dir, to: target(item))
                if let why { redone.append((item.name, why)) } else { exported.append(item.name) }
            } catch {
                // Image errors name the file already.
                failed.append((item.name, "\(error)"))
                if !flags.quiet && !flags.json { Terminal.warn("\(error)") }
            }
        }
        bar.finish()
        // A folder this run made and nothing went into is not left in the way;
        // any other gets the index of all its items.
        if !existed, (try? FileManager.default.contentsOfDirectory(atPath: out))?.isEmpty == true {
            try? FileManager.default.removeItem(atPath: out)
        } else {
            try writeBatchIndex(out)
        }
        let summary = "shard \(index)/\(count) of \(Terminal.count(all.count, "item"))"
        if flags.json {
            let report: [String: Any] = [
                "out": out, "shard": [index, count], "items": all.count, "exported": exported, "skipped": skipped,
                "redone": redone.map { ["item": $0.name, "why": $0.why] },
                "failed": failed.map { ["item": $0.name, "error": $0.error] },
            ]
            print(JSON.text(report), terminator: "")
        } else if !flags.quiet {
            print("exported \(Terminal.count(exported.count + redone.count, "item")) to \(out) (\(summary)"
                + (skipped.isEmpty ? "" : ", \(skipped.count) already complete")
                + (failed.isEmpty ? ")" : ", \(failed.count) failed)"))
            if let first = redone.first {
                print("redid \(Terminal.count(redone.count, "item")) made with other settings (\(first.name): \(first.why))")
            }
        }
        if let first = failed.first {
            throw CLIError("\(failed.count) of \(mine.count) items failed; the first: \(first.error)")
        }
    }

    /// An item's manifest, when the item is complete.
    func readManifest(_ directory: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: directory + "/manifest.json") else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    /// What an existing item was made with that this run would make differently,
    /// as "method gradcam, now scorecam"; nil when nothing differs.
    func settingsDifference(_ manifest: [String: Any], item: Item, model dir: ModelDirectory) -> String? {
        let task = dir.config.task
        let score = flags.score(for: task)
        var now: [(String, String)] = [
            ("model", dir.weightsSHA256), ("method", flags.method(for: dir).rawValue), ("layer", flags.layer.map(dir.layerName) ?? dir.explainLayer),
            ("score", score.rawValue), ("counterfactual", "\(flags.counterfactual)"), ("normalize", flags.normalize.rawValue),
            ("aug_smooth", "\(flags.augSmooth)"), ("eigen_smooth", "\(flags.eigenSmooth)"),
        ]
        var then: [String: String] = [
            "model": (manifest["model"] as? [String: Any])?["sha256"] as? String ?? "?",
            "method": manifest["method"] as? String ?? "?", "layer": manifest["layer"] as? String ?? "?",
            "score": manifest["score"] as? String ?? "?", "normalize": manifest["normalize"] as? String ?? "?",
            "counterfactual": (manifest["counterfactual"] as? Bool).map { "\($0)" } ?? "?",
            // Exports from before smoothing existed were not smoothed.
            "aug_smooth": (manifest["aug_smooth"] as? Bool).map { "\($0)" } ?? "false",
            "eigen_smooth": (manifest["eigen_smooth"] as? Bool).map { "\($0)" } ?? "false",
        ]
        switch task {
        case .captioning:
            now.append(("beam", "\(beam)"))
            then["beam"] = ((manifest["beam"] as? [String: Any])?["size"] as? Int).map { "\($0)" } ?? "?"
        case .vqa, .classification:
            let choices: Int
            switch dir.model {
            case let .vqa(_, _, answers): choices = answers.count
            case let .classification(_, classes): choices = classes.count
            case .captioning: choices = top
            }
            now.append(("top", "\(min(top, choices))"))
            then["top"] = "\((manifest["tokens"] as? [Any])?.count ?? -1)"
        }
        if let question = item.question {
            now.append(("question", question))
            then["question"] = (manifest["question"] as? [String: Any])?["text"] as? String ?? "?"
        }
        for (key, value) in now where then[key] != value {
            let old = then[key]!
            return key == "model" ? "made with other weights" : "\(key) \(old), now \(value)"
        }
        return nil
    }

    func explain(_ item: Item, model dir: ModelDirectory, to target: String) throws {
        let image = try LoadedImage(path: item.image, model: dir, quiet: flags.quiet || flags.json)
        var itemFlags = flags
        itemFlags.json = false
        itemFlags.quiet = true
        itemFlags.force = flags.force || resume
        let score = flags.score(for: dir.config.task)
        switch dir.config.task {
        case .captioning:
            let s = try CaptionTask(model: dir).explain(image: image.input, caption: nil, beam: beam, nbest: 1,
                                                        maxLength: nil, includeEnd: false, score: score,
                                                        options: flags.options(for: dir))[0]
            try emit(s, task: .captioning, image: image, model: dir, flags: itemFlags, score: score, out: target)
        case .vqa:
            let task = try VQATask(model: dir)
            let read = try task.read(item.question ?? "")
            if !flags.quiet && !flags.json {
                for warning in read.warnings(maxLength: dir.config.questionEncoder!.maxLength) { Terminal.warn("\(item.name): \(warning)") }
            }
            let s = try task.explain(image: image.input, question: read, answer: nil, top: top, score: score,
                                     options: flags.options(for: dir))
            try emit(s, task: .vqa, image: image, model: dir, flags: itemFlags, score: score, question: read, out: target)
        case .classification:
            let s = try ClassifyTask(model: dir).explain(image: image.input, className: nil, top: top,
                                                         score: score, options: flags.options(for: dir))
            try emit(s, task: .classification, image: image, model: dir, flags: itemFlags, score: score, out: target)
        }
    }
}
