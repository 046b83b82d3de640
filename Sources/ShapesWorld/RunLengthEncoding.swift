/// COCO's run-length encoding of binary masks. Runs go down each column, then
/// across columns (column-major, as pycocotools stores masks), alternate
/// background and object, and start with background.
public enum RunLengthEncoding {
    /// The runs of a row-major `width`×`height` mask.
    public static func encode(_ mask: [Bool], width: Int, height: Int) -> [Int] {
        precondition(mask.count == width * height, "mask must hold width*height values")
        var counts: [Int] = []
        var current = false, run = 0
        for x in 0..<width {
            for y in 0..<height {
                if mask[y * width + x] != current {
                    counts.append(run)
                    current.toggle()
                    run = 0
                }
                run += 1
            }
        }
        counts.append(run)
        return counts
    }

    /// The row-major mask the runs describe, or nil when a run is negative or
    /// the runs do not cover exactly `width * height` pixels (runs from a file
    /// may be near Int.max, so the sum is checked for overflow).
    public static func decode(_ counts: [Int], width: Int, height: Int) -> [Bool]? {
        var total = 0
        for run in counts {
            guard run >= 0 else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(run)
            guard !overflow else { return nil }
            total = sum
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard width >= 0, height >= 0, !overflow, total == pixels else { return nil }
        var mask = [Bool](repeating: false, count: pixels)
        var position = 0, value = false
        for run in counts {
            if value {
                for p in position..<position + run {
                    mask[(p % height) * width + p / height] = true
                }
            }
            position += run
            value.toggle()
        }
        return mask
    }

    /// The runs of pycocotools' compressed string form (`rleFrString`): each
    /// value in 5-bit groups, least significant first, as characters from '0'
    /// (0x20 marks "more groups follow", 0x10 in the last group the sign);
    /// from the fourth value on, each is stored as the difference from the
    /// value two before. Nil for characters outside that alphabet, or values
    /// that overflow.
    public static func counts(compressed string: String) -> [Int]? {
        var counts: [Int] = []
        var bytes = string.utf8.makeIterator()
        while let first = bytes.next() {
            var value = 0, shift = 0
            var byte = first
            while true {
                guard byte >= 48, byte < 48 + 64 else { return nil }
                let c = Int(byte) - 48
                value |= (c & 0x1F) << shift
                shift += 5
                if c & 0x20 == 0 {
                    if c & 0x10 != 0 { value |= -1 << shift }
                    break
                }
                guard let next = bytes.next(), shift < 60 else { return nil }
                byte = next
            }
            if counts.count > 2 {
                let (sum, overflow) = value.addingReportingOverflow(counts[counts.count - 2])
                guard !overflow else { return nil }
                value = sum
            }
            counts.append(value)
        }
        return counts
    }
}
