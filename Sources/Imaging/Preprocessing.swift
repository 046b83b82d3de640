/// How an image becomes a model's input tensor: the `input` object of a model
/// directory's config.json (spec/model-format.md).
///
/// The arithmetic follows PyTorch so that a model trained there sees the same
/// numbers here: resizing is `F.interpolate(mode="bilinear",
/// align_corners=False, antialias=False)` evaluated in Float on the decoded
/// 0...255 values, with no area averaging even when shrinking a lot; then
/// each value is divided by 255 and normalised as `(x - mean[c]) / std[c]`.
public struct Preprocessing: Equatable, Sendable {
    /// The `resize` field of config.json; raw values are the spelling there.
    public enum ResizeMode: String, Sendable {
        /// Bilinear to exactly width×height; the aspect ratio may change.
        case stretch
        /// Bilinear so the shorter side equals max(width, height) (or
        /// `shorterSide`), keeping the aspect ratio, then the central width×height region.
        case centerCrop = "center-crop"
    }

    public let width: Int
    public let height: Int
    public let resize: ResizeMode
    /// Per-channel mean and standard deviation, RGB order, on the [0, 1] scale.
    public let mean: [Float]
    public let std: [Float]
    /// "center-crop": the shorter side before the crop (torchvision's
    /// `Resize(S)` then `CenterCrop`); nil means max(width, height).
    public let shorterSide: Int?

    /// Validates the description, since it comes from a config file.
    public init(width: Int, height: Int, resize: ResizeMode, mean: [Float], std: [Float], shorterSide: Int? = nil) throws {
        guard width > 0, height > 0 else {
            throw ImageError.invalidPreprocessing(reason: "width and height must be positive, got \(width)x\(height)")
        }
        guard mean.count == 3, std.count == 3 else {
            throw ImageError.invalidPreprocessing(reason: "mean and std need 3 values (R, G, B), got \(mean.count) and \(std.count)")
        }
        guard mean.allSatisfy(\.isFinite), std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw ImageError.invalidPreprocessing(reason: "mean must be finite and std positive, got mean \(mean) std \(std)")
        }
        self.width = width
        self.height = height
        self.resize = resize
        self.mean = mean
        self.std = std
        if let shorterSide {
            guard resize == .centerCrop, shorterSide >= max(width, height) else {
                throw ImageError.invalidPreprocessing(reason: "resize_to (\(shorterSide)) needs \"center-crop\" and at least the input's larger side (\(max(width, height)))")
            }
        }
        self.shorterSide = shorterSide
    }

    /// What about `image` is far from what a model with this input saw, in
    /// words for a warning: its shape stretched or cropped away, a size much
    /// below the input's, no colour. The model still runs; a caption or an
    /// answer for such an image says little about the model.
    public func concerns(about image: RGBImage) -> [String] {
        var found: [String] = []
        let ratio = Double(image.width) / Double(image.height), inputRatio = Double(width) / Double(height)
        let change = Swift.max(ratio, inputRatio) / Swift.min(ratio, inputRatio)
        if change > 1.2 {
            let size = "the image is \(image.width)×\(image.height)"
            switch resize {
            case .stretch:
                found.append(size + " and is stretched to the model's \(width)×\(height) input, its shapes distorted "
                             + "\((change * 100).rounded() / 100)×; crop it to the input's proportions first")
            case .centerCrop:
                found.append(size + "; the model sees only its central \(Int((100 / change).rounded()))%")
            }
        }
        if image.width * 2 < width || image.height * 2 < height {
            found.append("the image is \(image.width)×\(image.height), less than half the model's \(width)×\(height) "
                         + "input: it is enlarged, and the model never saw so little detail")
        }
        if image.isGrey {
            found.append("the image has no colour (every pixel is grey); a model trained on colour images may misread it")
        }
        return found
    }

    /// The size the image is resized to before any crop. For "center-crop"
    /// the longer side is `Int(s * long / short)`, truncated as torchvision does.
    func resizedSize(of image: RGBImage) -> (width: Int, height: Int) {
        switch resize {
        case .stretch:
            return (width, height)
        case .centerCrop:
            let side = shorterSide ?? max(width, height)
            if image.width <= image.height {
                return (side, Int(Double(side * image.height) / Double(image.width)))
            }
            return (Int(Double(side * image.width) / Double(image.height)), side)
        }
    }

    /// The model input: 3 planes of height×width Floats (CHW, RGB order),
    /// ready to be the batch element of an NCHW tensor.
    ///
    /// Only the output pixels are computed: a centre crop samples the resized
    /// image's central region directly, so a large photo is never resized whole.
    public func apply(to image: RGBImage) -> [Float] {
        let resized = resizedSize(of: image)
        let left = centerOffset(resized.width, width), top = centerOffset(resized.height, height)
        let ax = BilinearAxis(input: image.width, output: resized.width)
        let ay = BilinearAxis(input: image.height, output: resized.height)
        let plane = width * height, inWidth = image.width
        var out = [Float](repeating: 0, count: 3 * plane)
        image.pixels.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { dst in
                for c in 0..<3 {
                    let m = mean[c], s = std[c]
                    for y in 0..<height {
                        let ry = y + top
                        let r0 = ay.i0[ry] * inWidth, r1 = ay.i1[ry] * inWidth
                        let wy0 = ay.w0[ry], wy1 = ay.w1[ry]
                        for x in 0..<width {
                            let rx = x + left
                            let a = (r0 + ax.i0[rx]) * 3 + c, b = (r0 + ax.i1[rx]) * 3 + c
                            let d = (r1 + ax.i0[rx]) * 3 + c, e = (r1 + ax.i1[rx]) * 3 + c
                            let h0 = Float(px[a]) * ax.w0[rx] + Float(px[b]) * ax.w1[rx]
                            let h1 = Float(px[d]) * ax.w0[rx] + Float(px[e]) * ax.w1[rx]
                            let v = h0 * wy0 + h1 * wy1
                            dst[c * plane + y * width + x] = (v / 255 - m) / s
                        }
                    }
                }
            }
        }
        return out
    }
}
