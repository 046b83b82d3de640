/// A COCO-instances split: every object's category, box and segmentation,
/// decoded to masks on demand (a real COCO file holds hundreds of thousands).
public struct InstanceMasks: Sendable {
    public struct Instance: Sendable {
        public let id: Int
        public let imageID: Int
        public let categoryID: Int
        public let category: String
        /// COCO's `[x, y, width, height]`.
        public let bbox: [Double]
        public let area: Double
        public let segmentation: Segmentation
        /// ShapesWorld's `color` and `size`; empty for other data.
        public let attributes: [String: String]
    }

    public let file: String
    public let images: [DatasetImage]
    /// Category names by id.
    public let categories: [Int: String]
    /// In file order.
    public let instances: [Instance]
    private let imagePosition: [Int: Int]
    private let instancesOfImage: [Int: [Int]]
    private let instancePosition: [Int: Int]

    /// Reads `instances.json` and `images/` of a split written by `writeDataset`.
    public init(directory: String) throws(DatasetError) {
        try self.init(annotationFile: DatasetFiles.path(directory, "instances.json"),
                      imagesDirectory: DatasetFiles.path(directory, "images"))
    }

    /// Reads any COCO instances file (e.g. `instances_val2014.json` with `val2014/`).
    ///
    /// - Throws: `DatasetError` for a missing or malformed file, an empty image
    ///   list or no annotations, duplicate ids, an annotation of an unknown
    ///   image or category, or missing image files.
    public init(annotationFile file: String, imagesDirectory: String) throws(DatasetError) {
        let records = try DatasetFiles.decode(JSONRecords.InstancesFile.self, from: file)
        let (images, index) = try DatasetFiles.images(records.images, file: file, directory: imagesDirectory)
        guard !records.annotations.isEmpty else { throw .emptySplit(file: file, detail: "there are no annotations") }
        var categories: [Int: String] = [:]
        for category in records.categories {
            guard categories.updateValue(category.name, forKey: category.id) == nil else {
                throw .invalid(file: file, detail: "category id \(category.id) is listed twice")
            }
        }
        var instances: [Instance] = []
        var ofImage: [Int: [Int]] = [:]
        var position: [Int: Int] = [:]
        for annotation in records.annotations {
            guard index[annotation.imageId] != nil else {
                throw .unknownImageID(file: file, what: "annotation \(annotation.id)",
                                      imageID: annotation.imageId, imageList: file)
            }
            guard let name = categories[annotation.categoryId] else {
                throw .invalid(file: file, detail: "annotation \(annotation.id) has category id"
                               + " \(annotation.categoryId), which is not in the category list")
            }
            guard position.updateValue(instances.count, forKey: annotation.id) == nil else {
                throw .invalid(file: file, detail: "annotation id \(annotation.id) is used twice")
            }
            ofImage[annotation.imageId, default: []].append(instances.count)
            instances.append(Instance(id: annotation.id, imageID: annotation.imageId, categoryID: annotation.categoryId,
                                      category: name, bbox: annotation.bbox, area: annotation.area,
                                      segmentation: annotation.segmentation, attributes: annotation.attributes ?? [:]))
        }
        try DatasetFiles.checkExist(images, listedIn: file, directory: imagesDirectory)
        self.file = file
        self.images = images
        self.categories = categories
        self.instances = instances
        imagePosition = index
        instancesOfImage = ofImage
        instancePosition = position
    }

    public func image(id: Int) -> DatasetImage? { imagePosition[id].map { images[$0] } }

    public func instance(id: Int) -> Instance? { instancePosition[id].map { instances[$0] } }

    /// The instances of one image, in file order.
    public func instances(ofImage id: Int) -> [Instance] { (instancesOfImage[id] ?? []).map { instances[$0] } }

    /// The instance's mask, row-major at its image's size.
    ///
    /// - Throws: `DatasetError.invalid` naming the annotation when the
    ///   segmentation is malformed or does not fit the image.
    public func mask(of instance: Instance) throws(DatasetError) -> [Bool] {
        guard let image = image(id: instance.imageID) else {
            throw .unknownImageID(file: file, what: "annotation \(instance.id)",
                                  imageID: instance.imageID, imageList: file)
        }
        do {
            return try instance.segmentation.mask(width: image.width, height: image.height)
        } catch {
            throw .invalid(file: file, detail: "annotation \(instance.id): \(error.reason)")
        }
    }
}
