/// A classification split (`labels.json`): one class per image.
///
/// ```json
/// {"categories": ["circle", …],
///  "images": [{"id": 1, "file_name": "000001.png", "width": 64, "height": 64,
///              "label": "circle", "object_id": 10}]}
/// ```
/// `object_id` (optional) is the instance annotation id of the labelled object.
public struct LabelDataset: Sendable {
    public struct Entry: Sendable {
        public let image: DatasetImage
        public let label: String
        /// The label's position in `categories`: the classifier's output index.
        public let classIndex: Int
        public let objectID: Int?
    }

    public let file: String
    public let categories: [String]
    /// In file order.
    public let entries: [Entry]

    /// Reads `labels.json` and `images/` of a split written by `writeDataset`.
    public init(directory: String) throws(DatasetError) {
        try self.init(labelsFile: DatasetFiles.path(directory, "labels.json"),
                      imagesDirectory: DatasetFiles.path(directory, "images"))
    }

    /// - Throws: `DatasetError` for a missing or malformed file, no categories
    ///   or duplicates, no images, duplicate image ids, a label that is not a
    ///   category, or missing image files.
    public init(labelsFile file: String, imagesDirectory: String) throws(DatasetError) {
        let records = try DatasetFiles.decode(JSONRecords.LabelsFile.self, from: file)
        guard !records.categories.isEmpty else { throw .invalid(file: file, detail: "the category list is empty") }
        var classIndex: [String: Int] = [:]
        for (position, name) in records.categories.enumerated() {
            guard classIndex.updateValue(position, forKey: name) == nil else {
                throw .invalid(file: file, detail: "category \"\(name)\" is listed twice")
            }
        }
        let imageRecords = records.images.map {
            JSONRecords.Image(id: $0.id, fileName: $0.fileName, width: $0.width, height: $0.height, cornerMark: $0.cornerMark)
        }
        let (images, _) = try DatasetFiles.images(imageRecords, file: file, directory: imagesDirectory)
        var entries: [Entry] = []
        for (image, record) in zip(images, records.images) {
            guard let index = classIndex[record.label] else {
                throw .invalid(file: file, detail: "image \(record.id) has label \"\(record.label)\","
                               + " which is not in the category list")
            }
            entries.append(Entry(image: image, label: record.label, classIndex: index, objectID: record.objectId))
        }
        try DatasetFiles.checkExist(images, listedIn: file, directory: imagesDirectory)
        self.file = file
        categories = records.categories
        self.entries = entries
    }
}
