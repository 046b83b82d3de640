import Foundation

/// One image of a split. Only the path is stored: callers decode images when
/// they need them, so opening a large real dataset is cheap.
public struct DatasetImage: Equatable, Sendable {
    public let id: Int
    public let fileName: String
    /// `fileName` inside the images folder.
    public let path: String
    public let width: Int
    public let height: Int
    /// Whether the bias case study's corner mark is drawn; nil when the file does not say.
    public let cornerMark: Bool?
}

/// Loading and checks shared by the readers.
enum DatasetFiles {
    static func path(_ directory: String, _ name: String) -> String {
        URL(fileURLWithPath: directory).appendingPathComponent(name).path
    }

    /// Decodes a JSON file, turning every failure into an error naming the file
    /// and, for a wrong structure, where in the file the problem is.
    static func decode<T: Decodable>(_ type: T.Type, from file: String) throws(DatasetError) -> T {
        guard FileManager.default.fileExists(atPath: file) else { throw .missingFile(file) }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw .malformedJSON(file: file, detail: "cannot read it: \(error.localizedDescription)")
        }
        do {
            return try JSONRecords.decoder().decode(type, from: data)
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                throw .malformedJSON(file: file, detail: syntaxError(in: data))
            }
            throw .malformedJSON(file: file, detail: describe(error))
        } catch {
            throw .malformedJSON(file: file, detail: "\(error)")
        }
    }

    /// Where the JSON syntax breaks ("Invalid value around character 17."): the
    /// decoder does not say, Foundation's parser does.
    private static func syntaxError(in data: Data) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: data)
            return "not valid JSON"
        } catch {
            let reason = (error as NSError).userInfo["NSDebugDescription"] as? String
            return "not valid JSON" + (reason.map { " (\($0))" } ?? "")
        }
    }

    /// The most pixels an image record may declare: masks are allocated at
    /// that size, so a hostile file must not declare -1 or 2⁶² pixels (the
    /// decoders' limit, `RGBImage.defaultMaxPixels`).
    static let maxImagePixels = 100_000_000

    /// The image records as `DatasetImage`s, checked to be non-empty,
    /// uniquely numbered and of a usable size, with a lookup from id to position.
    static func images(_ records: [JSONRecords.Image], file: String,
                       directory: String) throws(DatasetError) -> (list: [DatasetImage], index: [Int: Int]) {
        guard !records.isEmpty else { throw .emptySplit(file: file, detail: "the image list is empty") }
        var index: [Int: Int] = [:]
        var list: [DatasetImage] = []
        for record in records {
            guard index[record.id] == nil else { throw .invalid(file: file, detail: "image id \(record.id) is listed twice") }
            let (pixels, overflow) = record.width.multipliedReportingOverflow(by: record.height)
            guard record.width >= 1, record.height >= 1, !overflow, pixels <= maxImagePixels else {
                throw .invalid(file: file, detail: "image id \(record.id) has size \(record.width)×\(record.height);"
                               + " width and height must be positive, at most \(maxImagePixels) pixels in all")
            }
            index[record.id] = list.count
            list.append(DatasetImage(id: record.id, fileName: record.fileName, path: path(directory, record.fileName),
                                     width: record.width, height: record.height, cornerMark: record.cornerMark))
        }
        return (list, index)
    }

    /// Checks every image file exists before any work starts, reporting how
    /// many are missing and the first few, rather than failing mid-training.
    static func checkExist(_ images: [DatasetImage], listedIn file: String, directory: String) throws(DatasetError) {
        let missing = images.filter { !FileManager.default.fileExists(atPath: $0.path) }
        guard missing.isEmpty else {
            throw .missingImages(file: file, directory: directory, missing: missing.count, total: images.count,
                                 examples: missing.prefix(3).map(\.fileName))
        }
    }

    /// "missing key "file_name" at images[3]" rather than Foundation's debug dump.
    static func describe(_ error: DecodingError) -> String {
        func location(_ path: [CodingKey]) -> String {
            guard !path.isEmpty else { return "the top level" }
            return path.reduce("") { text, key in
                if let index = key.intValue { return text + "[\(index)]" }
                let name = snakeCase(key.stringValue)
                return text.isEmpty ? name : text + "." + name
            }
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing key \"\(snakeCase(key.stringValue))\" at \(location(context.codingPath))"
        case .typeMismatch(let type, let context):
            return "expected \(type) at \(location(context.codingPath))"
        case .valueNotFound(let type, let context):
            return "null where \(type) was expected at \(location(context.codingPath))"
        case .dataCorrupted(let context):
            return "\(context.debugDescription) at \(location(context.codingPath))"
        @unknown default:
            return "\(error)"
        }
    }

    /// The file's spelling of a property name (`imageId` → `image_id`).
    private static func snakeCase(_ name: String) -> String {
        name.reduce(into: "") { text, character in
            if character.isUppercase { text += "_" + character.lowercased() } else { text.append(character) }
        }
    }
}
