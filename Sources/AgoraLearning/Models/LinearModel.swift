import AgoraKernels
import Foundation

/// An L2-regularised linear model: least squares or binary logistic regression,
/// f(theta) = (1/n) sum_i l(x_i . theta, y_i) + (l2/2) ||theta||^2.
public struct LinearModel: Sendable, Codable, Equatable {
    public var loss: GLMLoss
    public var l2: Double
    public init(loss: GLMLoss, l2: Double) {
        self.loss = loss
        self.l2 = l2
    }

    /// Targets for `data`: logistic regression needs exactly two classes (class 0 -> -1,
    /// class 1 -> +1); least squares uses the data's real targets, else the class index.
    public func targets(_ data: Dataset) throws -> [Double] {
        switch loss {
        case .logistic:
            guard data.classes == 2 else {
                throw AgoraError.data(
                    file: data.name,
                    "binary logistic regression needs 2 classes, the data has \(data.classes) (\(data.labelNames.joined(separator: ", ")))")
            }
            return data.labels.map { $0 == 1 ? 1 : -1 }
        case .squared:
            return data.targets ?? data.labels.map(Double.init)
        }
    }

    /// Full-data objective, gradient and, for logistic regression, accuracy (sign agreement), in
    /// Double on rows of any scalar type (`Kernels.glmValueAndGradient`: Float data read exactly).
    public func evaluate<T: AgoraScalar>(
        _ theta: [Double], features: FeatureRows<T>, targets: [Double]
    ) throws -> (value: Double, gradient: [Double], accuracy: Double?) {
        try Kernels.glmValueAndGradient(loss: loss, l2: l2, features: features, targets: targets, parameters: theta)
    }

    /// Full-data objective and, for logistic regression, accuracy, without the gradient: one
    /// parallel pass (`Kernels.glmObjective`), what evaluations during a run need.
    public func objective<T: AgoraScalar>(
        _ theta: [Double], features: FeatureRows<T>, targets: [Double]
    ) throws -> (
        value: Double, accuracy: Double?
    ) {
        try Kernels.glmObjective(loss: loss, l2: l2, features: features, targets: targets, parameters: theta)
    }

}
