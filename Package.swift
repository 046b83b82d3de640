// swift-tools-version:6.1
import PackageDescription

// Layering (DESIGN.md): each module imports only those listed below it.
//   gradcam, gradcam-bench      executables
//   Tensor                      Float32 tensors, BLAS kernels, the backward engine
//   CBLAS, CUTF8Proc, CJPEG, CPNG, CCodecs   native libraries
let package = Package(
    name: "gradcam",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "gradcam", targets: ["gradcam"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        // The libraries the fuzz harnesses in Fuzz/ (a package of their own) call.
        .library(name: "GradCAMKit", targets: ["Imaging", "NN", "Models", "Text", "ShapesWorld", "TorchFiles"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // `gradcam serve`: HTTP, multipart uploads, the export as a zip. Hummingbird's default traits
        // (swift-configuration, full Foundation) are not needed.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // Native libraries.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CUTF8Proc", path: "Sources/CUTF8Proc",
                       providers: [.apt(["libutf8proc-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        // libjpeg and libpng report errors by longjmp; this C target catches them with setjmp.
        .target(name: "CCodecs", dependencies: ["CJPEG", "CPNG"], path: "Sources/CCodecs"),
        // Holding SIGINT/SIGTERM during atomic writes, in C for async-signal safety.
        .target(name: "CProcess", path: "Sources/CProcess"),

        .target(name: "Tensor", dependencies: ["CBLAS"]),

        // Outputs written to a temporary and renamed into place, for every module that writes.
        .target(name: "AtomicOutput"),
        .target(name: "NN", dependencies: ["Tensor", "AtomicOutput"]),
        .target(name: "Text", dependencies: ["CUTF8Proc"]),
        // PyTorch's own files (torch.save's zip and legacy layouts, pickles), read without executing them.
        .target(name: "TorchFiles", dependencies: ["NN", "Tensor"]),
        .target(name: "Models", dependencies: ["NN", "Text", "Imaging", "CProcess", "AtomicOutput",
                                               .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "ShapesWorld", dependencies: ["Imaging", "Text", "Tensor", "AtomicOutput"]),
        .target(name: "Training", dependencies: ["Models", "ShapesWorld"]),
        // `gradcam import`: other codebases' checkpoints as model directories.
        .target(name: "Importers", dependencies: ["Models", "TorchFiles", "AtomicOutput",
                                                  .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Decoding", dependencies: ["Models"]),
        .target(name: "Explain", dependencies: ["Decoding"]),
        // Task and grounding scores on a split with instance masks (ShapesWorld's or COCO's).
        .target(name: "Evaluation", dependencies: ["Explain", "ShapesWorld", "Imaging"]),
        .target(name: "Export", dependencies: ["Explain", "Imaging", "AtomicOutput"]),
        .target(name: "Imaging", dependencies: ["CCodecs"]),

        .executableTarget(name: "gradcam", dependencies: [
            "Export", "Evaluation", "Explain", "Decoding", "Training", "Importers", "ShapesWorld", "Models", "Imaging", "Text",
            "Tensor", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "MultipartKit", package: "multipart-kit"),
            .product(name: "ZIPFoundation", package: "ZIPFoundation"),
        ]),
        .executableTarget(name: "gradcam-bench", dependencies: [
            "Tensor", "Models", "Explain", "Export", "TorchFiles", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "TensorTests", dependencies: ["Tensor", "CBLAS"], exclude: ["Fixtures"]),
        .testTarget(name: "NNTests", dependencies: ["NN"]),
        .testTarget(name: "TextTests", dependencies: ["Text"]),
        .testTarget(name: "TorchFilesTests", dependencies: ["TorchFiles"], exclude: ["Fixtures/make_torch_files.py"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelsTests", dependencies: ["Models"], exclude: ["Fixtures"]),
        .testTarget(name: "DecodingTests", dependencies: ["Decoding"]),
        .testTarget(name: "ExplainTests", dependencies: ["Explain"], exclude: ["Fixtures"]),
        .testTarget(name: "ShapesWorldTests", dependencies: ["ShapesWorld"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training"]),
        .testTarget(name: "ImportersTests", dependencies: ["Importers", "Explain", "Imaging"], exclude: ["Fixtures/make_import_fixtures.py"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation"]),
        .testTarget(name: "ExportTests", dependencies: ["Export", "AtomicOutput"]),
        .testTarget(name: "CommandTests", dependencies: ["gradcam"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"], exclude: ["make_fixtures.py"],
                    resources: [.copy("Fixtures")]),
    ]
)
