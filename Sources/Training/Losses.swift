import Tensor

/// Mean cross-entropy of logits [N, C] against class indices [N], and the
/// share of rows whose top logit is the target.
public func crossEntropy(logits: Tensor, targets: [Int]) -> (loss: Tensor, accuracy: Float) {
    let n = targets.count
    precondition(logits.rank == 2 && logits.shape[0] == n, "crossEntropy: logits \(logits.shape) for \(n) targets")
    let loss = -logits.logSoftmax(axis: 1).pick(targets).mean()
    let predicted = logits.argmax(axis: 1)
    let correct = zip(predicted, targets).filter { $0 == $1 }.count
    return (loss, n > 0 ? Float(correct) / Float(n) : 0)
}
