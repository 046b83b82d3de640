import Imaging

/// PNG decoding (libpng through CCodecs: palettes, 16-bit, alpha on white,
/// interlacing, CRC checks). The pixel limit is small so a declared huge image
/// is refused before allocation. A decoded image must re-encode losslessly.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let magic: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    guard size >= 8, bytes.prefix(8).elementsEqual(magic) else { return 0 }
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
