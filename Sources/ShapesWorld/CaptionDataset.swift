/// A COCO-captions split: images and their reference captions.
public struct CaptionDataset: Sendable {
    public struct Reference: Equatable, Sendable {
        public let id: Int
        public let text: String
        /// The ShapesWorld template; nil for other data (e.g. real COCO).
        public let form: CaptionForm?
    }

    public struct Entry: Sendable {
        public let image: DatasetImage
        /// In file order; may be empty for an image nobody captioned.
        public let captions: [Reference]
    }

    /// The annotation file it was read from.
    public let file: String
    /// One entry per image, in the order of the file's image list.
    public let entries: [Entry]

    public var images: [DatasetImage] { entries.map(\.image) }

    /// Reads `captions.json` and `images/` of a split written by `writeDataset`.
    public init(directory: String) throws(DatasetError) {
        try self.init(annotationFile: DatasetFiles.path(directory, "captions.json"),
                      imagesDirectory: DatasetFiles.path(directory, "images"))
    }

    /// Reads any COCO captions file (e.g. `captions_val2014.json` with `val2014/`).
    ///
    /// - Throws: `DatasetError` for a missing or malformed file, an empty image
    ///   list or no captions, duplicate image ids, a caption of an unknown
    ///   image, or missing image files.
    public init(annotationFile file: String, imagesDirectory: String) throws(DatasetError) {
        let records = try DatasetFiles.decode(JSONRecords.CaptionsFile.self, from: file)
        let (images, index) = try DatasetFiles.images(records.images, file: file, directory: imagesDirectory)
        guard !records.annotations.isEmpty else { throw .emptySplit(file: file, detail: "there are no captions") }
        var captions = [[Reference]](repeating: [], count: images.count)
        for annotation in records.annotations {
            guard let position = index[annotation.imageId] else {
                throw .unknownImageID(file: file, what: "caption \(annotation.id)",
                                      imageID: annotation.imageId, imageList: file)
            }
            captions[position].append(Reference(id: annotation.id, text: annotation.caption,
                                                form: annotation.form.flatMap(CaptionForm.init(rawValue:))))
        }
        try DatasetFiles.checkExist(images, listedIn: file, directory: imagesDirectory)
        self.file = file
        entries = zip(images, captions).map { Entry(image: $0, captions: $1) }
    }
}
