/// The entries of a zip archive as `torch.save` writes them (PyTorch ≥ 1.6):
/// stored, not compressed, ZIP64 where the file is large. Only the central
/// directory and the local headers are read; entry data stays in the caller's
/// bytes.
struct ZipArchive {
    /// Each entry's data, as a byte range of the archive.
    private(set) var entries: [String: Range<Int>] = [:]
    /// Entry names in the order of the central directory.
    private(set) var names: [String] = []

    init(_ bytes: UnsafeRawBufferPointer) throws(ZipError) {
        let eocd = try Self.endOfCentralDirectory(bytes)
        var count = Int(Self.u16(bytes, eocd + 10))
        var directorySize = Int(Self.u32(bytes, eocd + 12))
        var directoryOffset = Int(Self.u32(bytes, eocd + 16))
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64: a locator just before the end record points at the ZIP64 end record.
            let locator = eocd - 20
            guard locator >= 0, Self.u32(bytes, locator) == 0x0706_4B50 else { throw ZipError("the ZIP64 locator is missing") }
            let record = Self.u64(bytes, locator + 8)
            guard bytes.count >= 56, record <= UInt64(bytes.count - 56), Self.u32(bytes, Int(record)) == 0x0606_4B50 else {
                throw ZipError("the ZIP64 end record lies outside the file")
            }
            count = Int(clamping: Self.u64(bytes, Int(record) + 32))
            directorySize = Int(clamping: Self.u64(bytes, Int(record) + 40))
            directoryOffset = Int(clamping: Self.u64(bytes, Int(record) + 48))
        }
        guard directoryOffset <= bytes.count, directorySize <= bytes.count - directoryOffset else {
            throw ZipError("the central directory lies outside the file: truncated?")
        }
        var at = directoryOffset
        for _ in 0..<count {
            guard at + 46 <= bytes.count, Self.u32(bytes, at) == 0x0201_4B50 else {
                throw ZipError("central directory entry \(names.count) at byte \(at) is damaged: truncated?")
            }
            let method = Self.u16(bytes, at + 10)
            var size = UInt64(Self.u32(bytes, at + 20))
            let nameLength = Int(Self.u16(bytes, at + 28)), extraLength = Int(Self.u16(bytes, at + 30))
            let commentLength = Int(Self.u16(bytes, at + 32))
            var localOffset = UInt64(Self.u32(bytes, at + 42))
            let end = at + 46 + nameLength + extraLength + commentLength
            guard end <= bytes.count else { throw ZipError("central directory entry \(names.count) runs past the end of the file") }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(at + 46)..<(at + 46 + nameLength)]), as: UTF8.self)
            // ZIP64 extra field: the 64-bit sizes and offset, each present only where its 32-bit field is all ones.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = Self.u16(bytes, extra), length = Int(Self.u16(bytes, extra + 2))
                var field = extra + 4
                if id == 0x0001 {
                    if Self.u32(bytes, at + 24) == 0xFFFF_FFFF, field + 8 <= extraEnd { size = Self.u64(bytes, field); field += 8 }
                    if Self.u32(bytes, at + 20) == 0xFFFF_FFFF, field + 8 <= extraEnd { size = Self.u64(bytes, field); field += 8 }
                    if localOffset == 0xFFFF_FFFF, field + 8 <= extraEnd { localOffset = Self.u64(bytes, field) }
                }
                extra += 4 + length
            }
            guard method == 0 else {
                throw ZipError("entry \(name) is compressed (method \(method)); torch.save stores its entries uncompressed — was the file re-zipped?")
            }
            guard bytes.count >= 30, localOffset <= UInt64(bytes.count - 30), Self.u32(bytes, Int(localOffset)) == 0x0403_4B50 else {
                throw ZipError("entry \(name)'s local header lies outside the file or is damaged: truncated?")
            }
            let local = Int(localOffset)
            let start = local + 30 + Int(Self.u16(bytes, local + 26)) + Int(Self.u16(bytes, local + 28))
            guard start <= bytes.count, size <= UInt64(bytes.count - start) else {
                throw ZipError("entry \(name) (\(size) bytes) runs past the end of the file: truncated?")
            }
            entries[name] = start..<(start + Int(size))
            names.append(name)
            at = end
        }
    }

    private static func endOfCentralDirectory(_ bytes: UnsafeRawBufferPointer) throws(ZipError) -> Int {
        guard bytes.count >= 22 else { throw ZipError("\(bytes.count) bytes, too short for a zip archive: truncated?") }
        // The end record is the last 22 bytes plus a comment of at most 65 535 bytes.
        let lowest = max(0, bytes.count - 22 - 65_535)
        var at = bytes.count - 22
        while at >= lowest {
            if u32(bytes, at) == 0x0605_4B50 { return at }
            at -= 1
        }
        throw ZipError("no end-of-central-directory record: the zip archive is truncated")
    }

    private static func u16(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt16 { b.loadUnaligned(fromByteOffset: at, as: UInt16.self).littleEndian }
    private static func u32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 { b.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian }
    private static func u64(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt64 { b.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian }
}

/// Why an archive could not be read, in words.
struct ZipError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
