import Foundation
import Tensor
import TorchFiles
import XCTest

/// Files written by torch.save and pickle.dump themselves (Fixtures/make_torch_files.py).
final class TorchCheckpointTests: XCTestCase {
    private func fixture(_ name: String) throws -> String {
        if name.hasPrefix("/") { return name }
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: nil), "missing fixture \(name)")
        return url.path
    }

    private struct Expected: Decodable {
        var shape: [Int]
        var values: [Double]
    }

    private func expected(_ file: String) throws -> [String: Expected] {
        let all = try JSONDecoder().decode([String: [String: Expected]].self, from: Data(contentsOf: URL(fileURLWithPath: try fixture("expected.json"))))
        return try XCTUnwrap(all[file])
    }

    /// Every tensor PyTorch saved is read back with its shape and values — F32, F16, BF16,
    /// F64, int64, scalars, empty tensors, views at offsets and with other strides
    /// of one shared storage, parameters — in both layouts.
    func testStateDictsInBothLayouts() throws {
        for file in ["zip-state.pt", "legacy-state.pt"] {
            let checkpoint = try TorchCheckpoint(path: fixture(file))
            let wanted = try expected(file)
            XCTAssertEqual(wanted.count, 12)
            for (path, e) in wanted {
                let t = try checkpoint.tensor(at: path)
                XCTAssertEqual(t.shape, e.shape, "\(file) \(path)")
                XCTAssertEqual(t.values.map(Double.init), e.values.map { Double(Float($0)) }, "\(file) \(path)")
            }
            let names = Set(try checkpoint.stateDict(of: XCTUnwrap(checkpoint.pickle.value(at: "state"))).keys)
            XCTAssertEqual(names, Set(wanted.keys.map { String($0.dropFirst("state.".count)) }))
            // The rest of the dict is plain data.
            let p = checkpoint.pickle
            XCTAssertEqual(p.value(at: "epoch"), .int(3))
            XCTAssertEqual(p.value(at: "best"), .float(0.125))
            XCTAssertEqual(p.value(at: "name"), .string("fixture"))
            XCTAssertEqual(p.value(at: "flags.0"), .bool(true))
            XCTAssertEqual(p.value(at: "flags.1"), PickleValue.none)
            XCTAssertEqual(p.value(at: "flags.2.1"), .int(2))
        }
    }

    /// Pickled modules are inert records walkable by module path; their
    /// attributes (an AdaptiveAvgPool2d's output_size, a Dropout's p) are read;
    /// the optimiser beside them is a record too, and not entered by state_dict.
    func testPickledModulesAndOptimiser() throws {
        for file in ["modules.pth.tar", "modules-legacy.pth.tar"] {
            let checkpoint = try TorchCheckpoint(path: fixture(file))
            let p = checkpoint.pickle
            let encoder = try XCTUnwrap(p.value(at: "encoder"))
            XCTAssertEqual(p.typeName(of: encoder), "models.Encoder")
            XCTAssertEqual(p.typeName(of: try XCTUnwrap(p.value(at: "encoder.adaptive_pool"))), "torch.nn.modules.pooling.AdaptiveAvgPool2d")
            XCTAssertEqual(p.value(at: "encoder.adaptive_pool.output_size.0"), .int(14))
            XCTAssertEqual(p.value(at: "decoder.dropout.p"), .float(0.25))
            XCTAssertEqual(p.value(at: "decoder.embed_dim"), .int(5))
            XCTAssertEqual(p.typeName(of: try XCTUnwrap(p.value(at: "decoder_optimizer"))), "torch.optim.adam.Adam")
            let wanted = try expected(file)
            var read = try checkpoint.stateDict(of: encoder).mapKeys { "encoder." + $0 }
            read.merge(try checkpoint.stateDict(of: XCTUnwrap(p.value(at: "decoder"))).mapKeys { "decoder." + $0 }) { a, _ in a }
            XCTAssertEqual(Set(read.keys), Set(wanted.keys), file)
            for (name, e) in wanted {
                XCTAssertEqual(read[name]?.shape, e.shape, name)
                XCTAssertEqual(read[name]?.values.map(Double.init), e.values.map { Double(Float($0)) }, name)
            }
            XCTAssertEqual(try checkpoint.tensor(at: "decoder.fc.weight").shape, [7, 5])
        }
    }

    /// A vocabulary pickled by Python at protocols 0, 2 and 4: its word2idx is a plain dict.
    func testPickledVocabulary() throws {
        for protocolVersion in [0, 2, 4] {
            let checkpoint = try TorchCheckpoint(path: fixture("vocab-p\(protocolVersion).pkl"))
            let p = checkpoint.pickle
            XCTAssertEqual(p.typeName(of: p.root), "build_vocab.Vocabulary", "protocol \(protocolVersion)")
            XCTAssertEqual(p.value(at: "idx"), .int(7))
            XCTAssertEqual(p.value(at: "word2idx.<end>"), .int(2))
            XCTAssertEqual(p.value(at: "word2idx.dog"), .int(6))
            if protocolVersion > 0 { XCTAssertEqual(p.value(at: "word2idx.café"), .int(5)) }
        }
    }

    /// Hostile and damaged files: each a clear error, nothing executed.
    func testRefusedAndDamagedFiles() throws {
        func message(_ file: String) throws -> String {
            do {
                _ = try TorchCheckpoint(path: fixture(file))
                XCTFail("\(file) loaded")
                return ""
            } catch { return "\(error)" }
        }
        XCTAssertEqual(try message("os-system.pkl"),
                       "os-system.pkl: the pickle names os.system at byte 0, a function that can run code or touch the system: refused (nothing from the file was executed)")
        XCTAssertTrue(try message("builtins-eval.pkl").contains("builtins.eval at byte 2"))
        XCTAssertEqual(try message("short-storage.pt"), "short-storage.pt: storage 0 should hold 16 × 4 bytes but its entry has 56")
        // The file loads (the pickle is valid); the tensor whose view leaves its storage is refused by name.
        let badView = try TorchCheckpoint(path: fixture("bad-view.pt"))
        XCTAssertThrowsError(try badView.tensor(at: "weight")) { error in
            XCTAssertEqual("\(error)", "bad-view.pt: tensor weight of size [5, 4], stride [4, 1] and offset 0 reaches beyond its storage 0 of 16 elements")
        }
        // Cut anywhere, a checkpoint is refused with a message, never read short.
        let whole = try Data(contentsOf: URL(fileURLWithPath: fixture("zip-state.pt")))
        let legacy = try Data(contentsOf: URL(fileURLWithPath: fixture("legacy-state.pt")))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("torchfiles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for (name, data) in [("zip.pt", whole), ("legacy.pt", legacy)] {
            for cut in stride(from: 1, to: data.count, by: 97) {
                let path = folder.appendingPathComponent(name).path
                try data.prefix(cut).write(to: URL(fileURLWithPath: path))
                XCTAssertThrowsError(try TorchCheckpoint(path: path), "\(name) cut at \(cut)") { error in
                    XCTAssertTrue("\(error)".hasPrefix(name + ": "), "\(error)")
                }
            }
        }
        let cut = folder.appendingPathComponent("cut.pt").path
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: cut))
        XCTAssertTrue(try message(cut).contains("no end-of-central-directory record: the zip archive is truncated"))
    }
}

private extension Dictionary where Key == String {
    func mapKeys(_ f: (String) -> String) -> [String: Value] { Dictionary(uniqueKeysWithValues: map { (f($0.key), $0.value) }) }
}
