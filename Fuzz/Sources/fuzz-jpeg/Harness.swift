import Imaging

/// JPEG decoding (libjpeg-turbo through CCodecs, then EXIF orientation in
/// Swift). Inputs without the JPEG magic are left to the PNG harness. The
/// pixel limit is small so a declared 65500×65500 image is refused rather
/// than decoded; what decodes must have exactly width·height·3 bytes and
/// survive a re-encode.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard size >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF else { return 0 }
    guard let image = try? RGBImage.decode(data: bytes, maxPixels: 1 << 20) else { return 0 }
    precondition(image.width > 0 && image.height > 0, "decoded an empty image")
    precondition(image.pixels.count == image.width * image.height * 3, "pixel buffer of the wrong size")
    if image.width * image.height <= 1 << 14 {
        let png = try! image.encodePNG()
        let back = try! RGBImage.decode(data: png)
        precondition(back.width == image.width && back.height == image.height && back.pixels == image.pixels,
                     "PNG round trip changed the image")
    }
    return 0
}
