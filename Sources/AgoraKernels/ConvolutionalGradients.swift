/// A LeNet-style convolutional network: convolution blocks (conv, ReLU, 2 x 2 max-pool), then
/// dense ReLU layers, then a dense layer to the class scores, softmax cross-entropy on top.
///
/// Images are rows of `channels x height x width` features in channel-major (C, H, W) order, the
/// order of the IDX and CIFAR-10 files and of PyTorch tensors. The parameters are one flat row in
/// PyTorch's `state_dict` order: for each convolution its weight [out, in, k, k] then its bias
/// [out], for each dense layer its weight [out, in] then its bias [out]; the first dense layer reads
/// the last pooled map flattened in (C, H, W) order. So a model trained here loads into the
/// reference code's `SimpleCNN` by a reshape, and the JAX peer uses the same layout.
public struct CNNShape: Sendable, Codable, Equatable, Hashable {
    /// One convolution block: `channels` output channels, a square `kernel`, zero `padding` on every
    /// side, stride 1; then ReLU and a 2 x 2 max-pool of stride 2 (an odd last row or column is
    /// dropped, as PyTorch's floor mode does).
    public struct Convolution: Sendable, Codable, Equatable, Hashable {
        public var channels: Int, kernel: Int, padding: Int
        public init(channels: Int, kernel: Int, padding: Int = 0) {
            self.channels = channels
            self.kernel = kernel
            self.padding = padding
        }
    }
    public var channels: Int, height: Int, width: Int
    public var convolutions: [Convolution]
    /// Widths of the hidden dense layers (each followed by ReLU).
    public var hidden: [Int]
    public var classes: Int

    public init(channels: Int, height: Int, width: Int, convolutions: [Convolution], hidden: [Int], classes: Int) {
        self.channels = channels
        self.height = height
        self.width = width
        self.convolutions = convolutions
        self.hidden = hidden
        self.classes = classes
    }

    /// The iPFL reference's `SimpleCNN`: conv 5 x 5 to 6 channels, pool, conv 5 x 5 to 16 channels,
    /// pool, dense 120, dense 84, dense `classes`. On 3 x 32 x 32 (CIFAR-10) it has 62,006
    /// parameters; on 1 x 28 x 28 (`simplecnn-mnist`, first dense layer 256 -> 120) 44,426.
    public static func simpleCNN(channels: Int, height: Int, width: Int, classes: Int = 10) -> CNNShape {
        CNNShape(
            channels: channels, height: height, width: width,
            convolutions: [Convolution(channels: 6, kernel: 5), Convolution(channels: 16, kernel: 5)],
            hidden: [120, 84], classes: classes)
    }

    /// Features per image.
    public var inputs: Int { channels * height * width }

    /// Throws unless every layer has a positive size (a kernel no larger than its padded input, a
    /// pooled map of at least 1 x 1, at least 2 classes).
    public func validate() throws {
        guard channels >= 1, height >= 1, width >= 1, classes >= 2, hidden.allSatisfy({ $0 >= 1 }) else {
            throw AgoraError.shape(
                "CNN: input \(channels) x \(height) x \(width), hidden \(hidden), \(classes) classes: every size must be positive and classes >= 2"
            )
        }
        // Sizes the plan's integer arithmetic can hold (a C caller can describe anything).
        let limit = Double(1 << 40)
        var (h, w) = (height, width)
        var (features, parameters) = (Double(channels) * Double(height) * Double(width), 0.0)
        var inputChannels = Double(channels)
        for c in convolutions {
            let kk = Double(c.kernel) * Double(c.kernel)
            parameters += Double(c.channels) * (inputChannels * kk + 1)
            features = max(
                features, Double(c.channels) * Double(height + 2 * c.padding) * Double(width + 2 * c.padding) * inputChannels * kk)
            inputChannels = Double(c.channels)
        }
        var inputs = features
        for out in hidden + [classes] {
            parameters += Double(out) * (min(inputs, limit) + 1)
            inputs = Double(out)
        }
        guard features < limit, parameters < limit, convolutions.allSatisfy({ $0.padding < 1 << 20 && $0.kernel < 1 << 20 }) else {
            throw AgoraError.shape(
                "CNN: the network is too large (about \(parameters) parameters, patch matrices of \(features) values per image)")
        }
        for (l, c) in convolutions.enumerated() {
            guard c.channels >= 1, c.kernel >= 1, c.padding >= 0, c.kernel <= h + 2 * c.padding, c.kernel <= w + 2 * c.padding else {
                throw AgoraError.shape(
                    "CNN: convolution \(l + 1) (\(c.channels) channels, kernel \(c.kernel), padding \(c.padding)) does not fit a \(h) x \(w) input"
                )
            }
            (h, w) = ((h + 2 * c.padding - c.kernel + 1) / 2, (w + 2 * c.padding - c.kernel + 1) / 2)
            guard h >= 1, w >= 1 else {
                throw AgoraError.shape("CNN: convolution \(l + 1) leaves a map smaller than 2 x 2 to pool")
            }
        }
    }

    /// The layers with their sizes and parameter offsets (valid shapes only).
    var plan: CNNPlan { CNNPlan(self) }

    /// Parameters in one flat row.
    public var parameterCount: Int { plan.parameterCount }

    /// Each layer's parameters (weight then bias) with the layer's fan-in (in x k x k for a
    /// convolution, its inputs for a dense layer), for initialisation.
    public var layerRanges: [(range: Range<Int>, fanIn: Int)] {
        let p = plan
        return p.convs.map { ($0.weight..<($0.bias + $0.o), $0.ckk) } + p.dense.map { ($0.weight..<($0.bias + $0.outputs), $0.inputs) }
    }

    /// Multiply-adds x 2 of one image's forward pass (convolutions and dense layers).
    public var forwardFlopsPerImage: Int {
        let p = plan
        return p.convs.reduce(0) { $0 + 2 * $1.positions * $1.o * $1.ckk } + p.dense.reduce(0) { $0 + 2 * $1.inputs * $1.outputs }
    }

    /// Flops of one image's forward and backward pass: the forward pass, the weight gradients (as
    /// many again) and the input gradients of every layer but the first convolution.
    public var trainingFlopsPerImage: Int {
        let p = plan
        let first = p.convs.first.map { 2 * $0.positions * $0.o * $0.ckk } ?? 0
        return 3 * forwardFlopsPerImage - first
    }
}

/// Sizes and parameter offsets of every layer of a `CNNShape`.
struct CNNPlan: Sendable {
    struct Conv: Sendable {
        var c: Int, h: Int, w: Int, o: Int, k: Int, pad: Int
        var hc: Int, wc: Int, hp: Int, wp: Int
        var weight: Int, bias: Int
        /// The first convolution with few filters runs as a direct convolution (`directConvolution`)
        /// on zero-padded (C, H, W) images: no patch matrix.
        var direct = false
        var ckk: Int { c * k * k }
        /// Eight-lane blocks of an output row, and the padded input's rows and row stride (every
        /// vector load of a block stays inside the padded image).
        var blocks: Int { (wc + 7) / 8 }
        var paddedRows: Int { h + 2 * pad }
        var paddedStride: Int { blocks * 8 + k - 1 }
        var positions: Int { hc * wc }
        var pooled: Int { hp * wp }
    }
    struct Dense: Sendable {
        var inputs: Int, outputs: Int, weight: Int, bias: Int
    }
    var convs: [Conv] = []
    var dense: [Dense] = []
    var parameterCount = 0
    var flat: Int

    init(_ s: CNNShape) {
        var (c, h, w, q) = (s.channels, s.height, s.width, 0)
        for v in s.convolutions {
            let hc = h + 2 * v.padding - v.kernel + 1, wc = w + 2 * v.padding - v.kernel + 1
            var cv = Conv(
                c: c, h: h, w: w, o: v.channels, k: v.kernel, pad: v.padding, hc: hc, wc: wc, hp: hc / 2, wp: wc / 2,
                weight: q, bias: q + v.channels * c * v.kernel * v.kernel)
            // On simplecnn-mnist the 1-channel first layer's patch matrix (25 values per output
            // pixel) costs as much to write as its product. The step of 9 clients x 64 images
            // measures 14-19 ms direct against 22-24 ms through im2col on a 2-vCPU Zen 4
            // (docs/cnn.md).
            cv.direct = convs.isEmpty && v.channels <= 32
            convs.append(cv)
            q = cv.bias + v.channels
            (c, h, w) = (v.channels, cv.hp, cv.wp)
        }
        flat = c * h * w
        var inputs = flat
        for out in s.hidden + [s.classes] {
            dense.append(Dense(inputs: inputs, outputs: out, weight: q, bias: q + out * inputs))
            q += out * inputs + out
            inputs = out
        }
        parameterCount = q
    }
}

/// Per-thread buffers of the CNN kernels, kept between calls (a training step would otherwise map
/// and fault in several megabytes per client per step).
final class CNNWorkspace<T: AgoraScalar>: @unchecked Sendable {
    let shape: CNNShape
    let batch: Int
    var values: [T]
    var argmax: [Int32]
    // Offsets into `values`.
    var x0 = 0, cols: [Int] = [], y: [Int] = [], pooled: [Int] = [], flat = 0, act: [Int] = []
    var dA = 0, dB = 0, dPool = 0, dY = 0
    /// Each convolution's filters permuted to [out, k, k, in] (the patch order of a channels-last
    /// map), and one buffer for a filter gradient in that order.
    var filters: [Int] = [], dFilter = 0
    /// The direct first convolution: one output row per filter (`blocks` x 8 each), and the output
    /// gradient of the whole chunk transposed to (image, row, filter, pixel) for its filter gradient.
    var rowTemp = 0, transposedGradient = 0
    var argOffsets: [Int] = []

    init(shape: CNNShape, batch: Int) {
        self.shape = shape
        self.batch = batch
        let p = shape.plan
        var n = 0
        func take(_ count: Int) -> Int {
            defer { n += count }
            return n
        }
        if let first = p.convs.first, first.direct {
            x0 = take(batch * first.c * first.paddedRows * first.paddedStride)
            rowTemp = take(first.o * first.blocks * 8)
            transposedGradient = take(batch * first.hc * first.o * first.blocks * 8)
        } else {
            x0 = take(batch * shape.inputs)
        }
        var a = 0
        var widest = p.flat, widestPool = 1, widestY = 1, widestFilter = 1
        for c in p.convs {
            filters.append(take(c.o * c.ckk))
            widestFilter = max(widestFilter, c.o * c.ckk)
            cols.append(take(c.direct ? 0 : batch * c.positions * c.ckk))
            y.append(take(batch * c.positions * c.o))
            pooled.append(take(batch * c.pooled * c.o))
            argOffsets.append(a)
            a += batch * c.pooled * c.o
            widestPool = max(widestPool, c.pooled * c.o)
            widestY = max(widestY, c.positions * c.o)
        }
        flat = take(batch * p.flat)
        for d in p.dense {
            act.append(take(batch * d.outputs))
            widest = max(widest, d.inputs, d.outputs)
        }
        dA = take(batch * widest)
        dB = take(batch * widest)
        dPool = take(batch * widestPool)
        dY = take(batch * widestY)
        dFilter = take(widestFilter)
        // Slack at the end: im2col's vector copies may read and write up to 7 elements past a run.
        values = [T](repeating: 0, count: n + 16)
        argmax = [Int32](repeating: 0, count: max(1, a))
    }
}

extension Kernels {
    /// Images per pass through the CNN kernels: a larger mini-batch (or an evaluation over a whole
    /// test set) is processed in chunks of this many images, so the buffers stay a few megabytes.
    public static let cnnChunk = 32

    private static let cnnWorkspaces = Locked<[AnyObject]>([])

    static func withCNNWorkspace<T: AgoraScalar, R>(_ shape: CNNShape, batch: Int, _: T.Type, _ body: (CNNWorkspace<T>) -> R) -> R {
        let ws: CNNWorkspace<T> =
            cnnWorkspaces.withLock { list in
                if let i = list.firstIndex(where: { ($0 as? CNNWorkspace<T>).map { $0.shape == shape && $0.batch == batch } ?? false }) {
                    return list.remove(at: i) as! CNNWorkspace<T>
                }
                return nil
            } ?? CNNWorkspace<T>(shape: shape, batch: batch)
        defer {
            cnnWorkspaces.withLock { list in
                list.append(ws)
                // Workspaces of shapes no longer in use age out.
                if list.count > 32 { list.removeFirst(list.count - 32) }
            }
        }
        return body(ws)
    }

    /// Mini-batch gradients of a `CNNShape` network with a softmax cross-entropy output, for every
    /// agent at once (row a of `parameters` is agent a's flat parameter vector; `batches[a]` its
    /// images, rows of dense `features` in (C, H, W) order). Loss: mean cross-entropy plus
    /// (l2 / 2) ||theta||^2 over every parameter (PyTorch's weight decay decays biases too; pass
    /// l2 = 0 and give the decay to the optimizer, as the reference does). ReLU'(0) = 0.
    ///
    /// How: the images are gathered channels last, and every convolution is im2col and GEMM
    /// (output positions x (k, k, C) patches times the filters permuted to that order). Agents run in parallel, each on one thread with
    /// single-threaded BLAS calls and its own buffers, so every agent's numbers are the same on any
    /// thread count; a batch larger than `cnnChunk` is processed in chunks of that many images.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func cnnGradients<T: AgoraScalar>(
        shape s: CNNShape, l2: T, features x: FeatureRows<T>, labels: [Int], parameters theta: Matrix<T>,
        batches: [[Int]], gradients g: inout Matrix<T>, losses: inout [T], pool: ThreadPool = .shared
    ) throws {
        let images = try checkCNN(
            shape: s, features: x, labels: labels, parameters: theta.cols, agents: theta.rows, batches: batches, kernel: "cnnGradients")
        guard g.cols == theta.cols, g.rows == theta.rows, losses.count == theta.rows else {
            throw AgoraError.shape(
                "cnnGradients: parameters \(theta.rows) x \(theta.cols) and gradients \(g.rows) x \(g.cols) must be agents x \(s.parameterCount), one loss per agent"
            )
        }
        let plan = s.plan
        let chunk = min(cnnChunk, max(1, batches.map(\.count).max() ?? 1))
        images.withUnsafeBufferPointer { img in
            let src = SendablePointer(UnsafeMutablePointer(mutating: img.baseAddress!))
            OpenBLAS.singleThreaded {
                perAgentGradients(
                    parameters: theta, gradients: &g, losses: &losses, batches: batches, l2: l2, bytes: .max, pool: pool
                ) { a, th, gr in
                    withCNNWorkspace(s, batch: chunk, T.self) { ws in
                        var total = 0.0
                        let rows = batches[a]
                        var start = 0
                        while start < rows.count {
                            let n = min(chunk, rows.count - start)
                            total += cnnPass(
                                plan, ws, images: src.p, inputs: s.inputs, rows: rows[start..<(start + n)], labels: labels,
                                theta: th, gradients: gr)
                            start += n
                        }
                        return total
                    }
                }
            }
        }
    }

    /// Every model's class scores on its own rows: `logits[a]` holds rows[a].count x classes scores
    /// of row a of `parameters`. Chunks of `cnnChunk` images run in parallel, each on one thread
    /// with single-threaded BLAS calls, so the scores do not depend on the thread count.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func cnnLogits<T: AgoraScalar>(
        shape s: CNNShape, features x: FeatureRows<T>, parameters theta: Matrix<T>, rows: [[Int]], pool: ThreadPool = .shared
    ) throws -> [[T]] {
        let images = try checkCNN(
            shape: s, features: x, labels: nil, parameters: theta.cols, agents: theta.rows, batches: rows, kernel: "cnnLogits")
        let plan = s.plan, k = s.classes
        // Work items: chunks of one model's rows, written to disjoint parts of one output buffer.
        var items: [(model: Int, start: Int, offset: Int)] = []
        var offset = 0
        for (a, r) in rows.enumerated() {
            for start in stride(from: 0, to: r.count, by: cnnChunk) { items.append((a, start, (offset + start) * k)) }
            offset += r.count
        }
        var all = [T](repeating: 0, count: offset * k)
        images.withUnsafeBufferPointer { img in
            theta.storage.withUnsafeBufferPointer { tb in
                all.withUnsafeMutableBufferPointer { ob in
                    guard let ib = img.baseAddress, let tbase = tb.baseAddress, let obase = ob.baseAddress else { return }
                    let src = SendablePointer(UnsafeMutablePointer(mutating: ib))
                    let tp = SendablePointer(UnsafeMutablePointer(mutating: tbase)), op = SendablePointer(obase)
                    OpenBLAS.singleThreaded {
                        pool.parallelFor(items.count, bytes: .max) { range in
                            withCNNWorkspace(s, batch: cnnChunk, T.self) { ws in
                                for it in range {
                                    let (a, start, at) = items[it]
                                    let n = min(cnnChunk, rows[a].count - start)
                                    _ = cnnForward(
                                        plan, ws, images: src.p, inputs: s.inputs, rows: rows[a][start..<(start + n)],
                                        theta: tp.p + a * theta.cols)
                                    ws.values.withUnsafeBufferPointer { v in
                                        (op.p + at).update(from: v.baseAddress! + ws.act[plan.dense.count - 1], count: n * k)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var out: [[T]] = []
        offset = 0
        for r in rows {
            out.append(Array(all[(offset * k)..<((offset + r.count) * k)]))
            offset += r.count
        }
        return out
    }

    /// Validates a CNN call; returns the dense image storage.
    private static func checkCNN<T: AgoraScalar>(
        shape s: CNNShape, features x: FeatureRows<T>, labels: [Int]?, parameters p: Int, agents: Int, batches: [[Int]], kernel: String
    ) throws -> [T] {
        try s.validate()
        guard case let .dense(m) = x else {
            throw AgoraError.shape("\(kernel): images must be dense rows (the data set is sparse)")
        }
        guard m.rows > 0, m.cols == s.inputs else {
            throw AgoraError.shape(
                "\(kernel): \(m.rows) rows of \(m.cols) features for \(s.channels) x \(s.height) x \(s.width) images (\(s.inputs) features)"
            )
        }
        guard p == s.parameterCount, batches.count == agents else {
            throw AgoraError.shape(
                "\(kernel): parameters \(agents) x \(p) must be agents x \(s.parameterCount), with one batch per agent (\(batches.count) given)"
            )
        }
        if let labels { try checkLabels(labels, rows: m.rows, classes: s.classes, kernel: kernel) }
        try checkBatches(batches, rows: m.rows, kernel: kernel)
        return m.storage
    }

    /// The forward pass of `rows` (at most the workspace's batch) through the network: fills the
    /// workspace's activations; the class scores end in `ws.act.last`.
    static func cnnForward<T: AgoraScalar>(
        _ plan: CNNPlan, _ ws: CNNWorkspace<T>, images: UnsafeMutablePointer<T>, inputs: Int, rows: ArraySlice<Int>,
        theta th: UnsafeMutablePointer<T>
    ) -> Int {
        let b = rows.count
        ws.values.withUnsafeMutableBufferPointer { vb in
            ws.argmax.withUnsafeMutableBufferPointer { ab in
                let v = vb.baseAddress!
                // Gather the images: zero-padded (C, H, W) for a direct first convolution, else
                // channels last, (H, W, C).
                let x0 = v + ws.x0, hw = plan.convs.first.map { $0.h * $0.w } ?? 0, ch = plan.convs.first?.c ?? 1
                if let first = plan.convs.first, first.direct {
                    let plane = first.paddedRows * first.paddedStride
                    x0.update(repeating: 0, count: b * first.c * plane)
                    for (q, r) in rows.enumerated() {
                        for c in 0..<first.c {
                            for yy in 0..<first.h {
                                (x0 + (q * first.c + c) * plane + (yy + first.pad) * first.paddedStride + first.pad).update(
                                    from: images + r * inputs + (c * first.h + yy) * first.w, count: first.w)
                            }
                        }
                    }
                } else {
                    for (q, r) in rows.enumerated() {
                        let img = images + r * inputs, dst = x0 + q * inputs
                        if ch == 1 || plan.convs.isEmpty {
                            dst.update(from: img, count: inputs)
                        } else {
                            for c in 0..<ch { for p in 0..<hw { dst[p * ch + c] = img[c * hw + p] } }
                        }
                    }
                }
                var src = UnsafePointer(x0)
                for (l, c) in plan.convs.enumerated() {
                    let cols = v + ws.cols[l], y = v + ws.y[l], pooled = v + ws.pooled[l], wp = v + ws.filters[l]
                    if c.direct {
                        directConvolution(x0, images: b, c, filters: th + c.weight, rowTemp: v + ws.rowTemp, into: y)
                        biasReLUPool(y, b, c, bias: th + c.bias, into: pooled, argmax: ab.baseAddress! + ws.argOffsets[l])
                        src = UnsafePointer(pooled)
                        continue
                    }
                    // Filters [out, in, k, k] -> [out, k, k, in].
                    let kk = c.k * c.k
                    for o in 0..<c.o {
                        for ic in 0..<c.c { for t in 0..<kk { wp[(o * kk + t) * c.c + ic] = th[c.weight + (o * c.c + ic) * kk + t] } }
                    }
                    im2col(src, images: b, c, into: cols)
                    T._gemm(
                        transA: false, transB: true, m: b * c.positions, n: c.o, k: c.ckk, alpha: 1, a: cols, lda: c.ckk,
                        b: wp, ldb: c.ckk, beta: 0, c: y, ldc: c.o)
                    biasReLUPool(y, b, c, bias: th + c.bias, into: pooled, argmax: ab.baseAddress! + ws.argOffsets[l])
                    src = UnsafePointer(pooled)
                }
                // Flatten the last map in (C, H, W) order.
                if let c = plan.convs.last {
                    let f = v + ws.flat
                    for q in 0..<b {
                        for yx in 0..<c.pooled {
                            for o in 0..<c.o { f[q * plan.flat + o * c.pooled + yx] = src[(q * c.pooled + yx) * c.o + o] }
                        }
                    }
                    src = UnsafePointer(f)
                }
                for (j, d) in plan.dense.enumerated() {
                    let z = v + ws.act[j]
                    T._gemm(
                        transA: false, transB: true, m: b, n: d.outputs, k: d.inputs, alpha: 1, a: src, lda: d.inputs,
                        b: th + d.weight, ldb: d.inputs, beta: 0, c: z, ldc: d.outputs)
                    biasReLU(z, rows: b, cols: d.outputs, bias: th + d.bias, relu: j < plan.dense.count - 1)
                    src = UnsafePointer(z)
                }
            }
        }
        return b
    }

    /// Forward and backward pass of `rows`: adds the summed gradients to `gr`, returns the summed loss.
    static func cnnPass<T: AgoraScalar>(
        _ plan: CNNPlan, _ ws: CNNWorkspace<T>, images: UnsafeMutablePointer<T>, inputs: Int, rows: ArraySlice<Int>, labels: [Int],
        theta th: UnsafeMutablePointer<T>, gradients gr: UnsafeMutablePointer<T>
    ) -> Double {
        let b = cnnForward(plan, ws, images: images, inputs: inputs, rows: rows, theta: th)
        var total = 0.0
        ws.values.withUnsafeMutableBufferPointer { vb in
            ws.argmax.withUnsafeMutableBufferPointer { ab in
                let v = vb.baseAddress!
                let nd = plan.dense.count, k = plan.dense[nd - 1].outputs
                // Softmax cross-entropy: dZ = p - onehot(y), in the ping buffer.
                var dz = v + ws.dA, spare = v + ws.dB
                let logits = v + ws.act[nd - 1]
                for (q, r) in rows.enumerated() {
                    let z = logits + q * k
                    var zmax = -Double.infinity
                    for c in 0..<k { zmax = max(zmax, z[c].wide) }
                    var sum = 0.0
                    for c in 0..<k { sum += Math.exp(z[c].wide - zmax) }
                    let y = labels[r]
                    total += Math.log(sum) - (z[y].wide - zmax)
                    for c in 0..<k { dz[q * k + c] = T(Math.exp(z[c].wide - zmax) / sum - (c == y ? 1 : 0)) }
                }
                // Dense layers, last to first.
                for j in stride(from: nd - 1, through: 0, by: -1) {
                    let d = plan.dense[j]
                    let a = j > 0 ? v + ws.act[j - 1] : (plan.convs.isEmpty ? v + ws.x0 : v + ws.flat)
                    T._gemm(
                        transA: true, transB: false, m: d.outputs, n: d.inputs, k: b, alpha: 1, a: dz, lda: d.outputs, b: a, ldb: d.inputs,
                        beta: 1, c: gr + d.weight, ldc: d.inputs)
                    columnSums(dz, rows: b, cols: d.outputs, into: gr + d.bias)
                    if j == 0 && plan.convs.isEmpty { break }
                    T._gemm(
                        transA: false, transB: false, m: b, n: d.inputs, k: d.outputs, alpha: 1, a: dz, lda: d.outputs, b: th + d.weight,
                        ldb: d.inputs, beta: 0, c: spare, ldc: d.inputs)
                    if j > 0 {
                        // Through the ReLU of the hidden layer below.
                        for q in 0..<(b * d.inputs) where a[q] <= 0 { spare[q] = 0 }
                    }
                    swap(&dz, &spare)
                }
                guard !plan.convs.isEmpty else { return }
                // dz holds d(flat) [b, C H W]; to the last pooled map (channels last).
                var dPool = v + ws.dPool
                let last = plan.convs[plan.convs.count - 1]
                for q in 0..<b {
                    for yx in 0..<last.pooled {
                        for o in 0..<last.o { dPool[(q * last.pooled + yx) * last.o + o] = dz[q * plan.flat + o * last.pooled + yx] }
                    }
                }
                for l in stride(from: plan.convs.count - 1, through: 0, by: -1) {
                    let c = plan.convs[l]
                    let dy = v + ws.dY, cols = v + ws.cols[l]
                    // Un-pool (non-overlapping windows) through the ReLU: ReLU'(0) = 0 (argmax -1).
                    dy.update(repeating: 0, count: b * c.positions * c.o)
                    let arg = ab.baseAddress! + ws.argOffsets[l]
                    for q in 0..<(b * c.pooled * c.o) {
                        let at = Int(arg[q])
                        if at >= 0 { dy[at] = dPool[q] }
                    }
                    if c.direct {
                        directFilterGradient(
                            v + ws.x0, images: b, c, dY: dy, transposed: v + ws.transposedGradient, into: gr + c.weight, bias: gr + c.bias)
                        break
                    }
                    let dw = v + ws.dFilter, kk = c.k * c.k
                    T._gemm(
                        transA: true, transB: false, m: c.o, n: c.ckk, k: b * c.positions, alpha: 1, a: dy, lda: c.o, b: cols, ldb: c.ckk,
                        beta: 0, c: dw, ldc: c.ckk)
                    for o in 0..<c.o {
                        for ic in 0..<c.c { for t in 0..<kk { gr[c.weight + (o * c.c + ic) * kk + t] += dw[(o * kk + t) * c.c + ic] } }
                    }
                    columnSums(dy, rows: b * c.positions, cols: c.o, into: gr + c.bias)
                    if l == 0 { break }
                    // d(cols) = dY W into the cols buffer (no longer needed), then back onto the map below.
                    T._gemm(
                        transA: false, transB: false, m: b * c.positions, n: c.ckk, k: c.o, alpha: 1, a: dy, lda: c.o, b: v + ws.filters[l],
                        ldb: c.ckk, beta: 0, c: cols, ldc: c.ckk)
                    dPool = v + ws.dPool
                    dPool.update(repeating: 0, count: b * c.h * c.w * c.c)
                    col2im(cols, images: b, c, into: dPool)
                }
            }
        }
        return total
    }

    /// Patches of every image of a channels-last map: row (image, y, x) holds the (k, k, C) window
    /// at (y - pad, x - pad), zero outside the image. One row of a window is k pixels x C channels,
    /// contiguous in the map: a copy, not a gather.
    static func im2col<T: AgoraScalar>(_ src: UnsafePointer<T>, images: Int, _ c: CNNPlan.Conv, into dst: UnsafeMutablePointer<T>) {
        let run = c.k * c.c, rowStride = c.w * c.c
        var d = dst
        for b in 0..<images {
            let base = src + b * c.h * rowStride
            for y in 0..<c.hc {
                for x in 0..<c.wc {
                    let x0 = x - c.pad, lo = max(0, -x0), hi = min(c.k, c.w - x0)
                    for i in 0..<c.k {
                        let yy = y + i - c.pad
                        if yy < 0 || yy >= c.h || lo >= hi {
                            d.update(repeating: 0, count: run)
                        } else {
                            if lo > 0 { d.update(repeating: 0, count: lo * c.c) }
                            copySmall(d + lo * c.c, base + yy * rowStride + (x0 + lo) * c.c, (hi - lo) * c.c)
                            if hi < c.k { (d + hi * c.c).update(repeating: 0, count: (c.k - hi) * c.c) }
                        }
                        d += run
                    }
                }
            }
        }
    }

    /// The first convolution without a patch matrix: for every output row, two filters and up to
    /// four eight-pixel blocks at a time (eight independent fused multiply-add chains), the sum over
    /// (channel, i, j) of the filter weight times a vector load of the zero-padded (C, H, W) image
    /// at that offset; written channels last into `y` (no bias).
    static func directConvolution<T: AgoraScalar>(
        _ x: UnsafePointer<T>, images: Int, _ c: CNNPlan.Conv, filters w: UnsafePointer<T>, rowTemp tmp: UnsafeMutablePointer<T>,
        into y: UnsafeMutablePointer<T>
    ) {
        let plane = c.paddedRows * c.paddedStride, kk = c.k * c.k, row = c.blocks * 8, size = MemoryLayout<T>.stride
        @inline(__always) func load(_ p: UnsafeRawPointer, _ block: Int) -> SIMD8<T> {
            p.loadUnaligned(fromByteOffset: block &* 8 &* size, as: SIMD8<T>.self)
        }
        for b in 0..<images {
            for oy in 0..<c.hc {
                for o in stride(from: 0, to: c.o, by: 2) {
                    let two = o + 1 < c.o
                    for xb in stride(from: 0, to: c.blocks, by: 4) {
                        let n = min(4, c.blocks - xb)
                        var a0 = SIMD8<T>.zero, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0
                        for ch in 0..<c.c {
                            let image: Int = (b &* c.c &+ ch) &* plane, offset: Int = oy &* c.paddedStride &+ xb &* 8
                            let base = x + (image &+ offset)
                            let wa = w + (o &* c.c &+ ch) &* kk
                            let wb = two ? wa + c.c &* kk : wa
                            for i in 0..<c.k {
                                let r = base + i &* c.paddedStride
                                for j in 0..<c.k {
                                    let p = UnsafeRawPointer(r + j)
                                    let va = SIMD8(repeating: wa[i &* c.k &+ j]), vb = SIMD8(repeating: wb[i &* c.k &+ j])
                                    let x0 = load(p, 0)
                                    a0 = a0.addingProduct(va, x0)
                                    b0 = b0.addingProduct(vb, x0)
                                    if n > 1 {
                                        let x1 = load(p, 1)
                                        a1 = a1.addingProduct(va, x1)
                                        b1 = b1.addingProduct(vb, x1)
                                    }
                                    if n > 2 {
                                        let x2 = load(p, 2)
                                        a2 = a2.addingProduct(va, x2)
                                        b2 = b2.addingProduct(vb, x2)
                                    }
                                    if n > 3 {
                                        let x3 = load(p, 3)
                                        a3 = a3.addingProduct(va, x3)
                                        b3 = b3.addingProduct(vb, x3)
                                    }
                                }
                            }
                        }
                        @inline(__always) func store(_ f: Int, _ v0: SIMD8<T>, _ v1: SIMD8<T>, _ v2: SIMD8<T>, _ v3: SIMD8<T>) {
                            let t = UnsafeMutableRawPointer(tmp + f * row + xb * 8)
                            t.storeBytes(of: v0, as: SIMD8<T>.self)
                            if n > 1 { t.storeBytes(of: v1, toByteOffset: 8 * size, as: SIMD8<T>.self) }
                            if n > 2 { t.storeBytes(of: v2, toByteOffset: 16 * size, as: SIMD8<T>.self) }
                            if n > 3 { t.storeBytes(of: v3, toByteOffset: 24 * size, as: SIMD8<T>.self) }
                        }
                        store(o, a0, a1, a2, a3)
                        if two { store(o + 1, b0, b1, b2, b3) }
                    }
                }
                let out = y + (b * c.hc + oy) * c.wc * c.o
                for ox in 0..<c.wc { for o in 0..<c.o { out[ox * c.o + o] = tmp[o * row + ox] } }
            }
        }
    }

    /// The filter and bias gradients of `directConvolution`. The output gradient dY (channels last)
    /// is first transposed to (image, row, filter, pixel) rows of `blocks` x 8 lanes, zero past the
    /// row's end, summing the bias gradient on the way. Then, for every (filter, channel, i) and up
    /// to four j at a time, it adds sum over images, rows and pixels of dY x image[channel, pixel +
    /// (i, j)] to `g` [out, in, k, k]. The four sums run in registers over the whole chunk.
    static func directFilterGradient<T: AgoraScalar>(
        _ x: UnsafePointer<T>, images: Int, _ c: CNNPlan.Conv, dY dy: UnsafePointer<T>, transposed t: UnsafeMutablePointer<T>,
        into g: UnsafeMutablePointer<T>, bias gb: UnsafeMutablePointer<T>
    ) {
        let plane = c.paddedRows * c.paddedStride, row = c.blocks * 8, size = MemoryLayout<T>.stride
        let rows = images * c.hc
        t.update(repeating: 0, count: rows * c.o * row)
        for r in 0..<rows {
            let d = dy + r * c.wc * c.o, tr = t + r * c.o * row
            for o in 0..<c.o {
                // The bias gradient in a local sum (through gb it would be a load-store chain).
                var sum: T = 0
                for ox in 0..<c.wc {
                    let v = d[ox &* c.o &+ o]
                    tr[o &* row &+ ox] = v
                    sum += v
                }
                gb[o] += sum
            }
        }
        for o in 0..<c.o {
            for ch in 0..<c.c {
                for i in 0..<c.k {
                    for j0 in stride(from: 0, to: c.k, by: 4) {
                        let n = min(4, c.k - j0)
                        var s0 = SIMD8<T>.zero, s1 = s0, s2 = s0, s3 = s0
                        for b in 0..<images {
                            let first: Int = (b &* c.c &+ ch) &* plane, shift: Int = i &* c.paddedStride &+ j0
                            let image = x + (first &+ shift)
                            for oy in 0..<c.hc {
                                let line: Int = (b &* c.hc &+ oy) &* c.o &+ o
                                let tr = UnsafeRawPointer(t + line &* row)
                                let xr = UnsafeRawPointer(image + oy &* c.paddedStride)
                                for xb in 0..<c.blocks {
                                    let off = xb &* 8 &* size
                                    let dv = tr.loadUnaligned(fromByteOffset: off, as: SIMD8<T>.self)
                                    s0 = s0.addingProduct(dv, xr.loadUnaligned(fromByteOffset: off, as: SIMD8<T>.self))
                                    if n > 1 { s1 = s1.addingProduct(dv, xr.loadUnaligned(fromByteOffset: off &+ size, as: SIMD8<T>.self)) }
                                    if n > 2 {
                                        s2 = s2.addingProduct(dv, xr.loadUnaligned(fromByteOffset: off &+ 2 &* size, as: SIMD8<T>.self))
                                    }
                                    if n > 3 {
                                        s3 = s3.addingProduct(dv, xr.loadUnaligned(fromByteOffset: off &+ 3 &* size, as: SIMD8<T>.self))
                                    }
                                }
                            }
                        }
                        let q = ((o * c.c + ch) * c.k + i) * c.k + j0
                        g[q] += s0.sum()
                        if n > 1 { g[q + 1] += s1.sum() }
                        if n > 2 { g[q + 2] += s2.sum() }
                        if n > 3 { g[q + 3] += s3.sum() }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds every patch entry to its pixel of the channels-last map.
    static func col2im<T: AgoraScalar>(_ cols: UnsafePointer<T>, images: Int, _ c: CNNPlan.Conv, into dst: UnsafeMutablePointer<T>) {
        let run = c.k * c.c, rowStride = c.w * c.c
        var s = cols
        for b in 0..<images {
            let base = dst + b * c.h * rowStride
            for y in 0..<c.hc {
                for x in 0..<c.wc {
                    let x0 = x - c.pad, lo = max(0, -x0), hi = min(c.k, c.w - x0)
                    for i in 0..<c.k {
                        let yy = y + i - c.pad
                        if yy >= 0 && yy < c.h && lo < hi {
                            addSmall(base + yy * rowStride + (x0 + lo) * c.c, s + lo * c.c, (hi - lo) * c.c)
                        }
                        s += run
                    }
                }
            }
        }
    }

    /// d[0..<n] = s[0..<n] for the short runs of im2col, eight lanes at a time, rounding n up: it
    /// reads and writes up to 7 elements past the run. im2col writes its rows in increasing order,
    /// so what it writes past a run is overwritten by the next one; the workspace ends in slack for
    /// the last, and a read past a map lands in the workspace's next buffer (or that slack).
    @inline(__always)
    static func copySmall<T: AgoraScalar>(_ d: UnsafeMutablePointer<T>, _ s: UnsafePointer<T>, _ n: Int) {
        var t = 0
        while t < n {
            UnsafeMutableRawPointer(d + t).storeBytes(of: UnsafeRawPointer(s + t).loadUnaligned(as: SIMD8<T>.self), as: SIMD8<T>.self)
            t += 8
        }
    }

    /// d[0..<n] += s[0..<n].
    @inline(__always)
    static func addSmall<T: AgoraScalar>(_ d: UnsafeMutablePointer<T>, _ s: UnsafePointer<T>, _ n: Int) {
        var t = 0
        while t + 8 <= n {
            let v = UnsafeRawPointer(d + t).loadUnaligned(as: SIMD8<T>.self) + UnsafeRawPointer(s + t).loadUnaligned(as: SIMD8<T>.self)
            UnsafeMutableRawPointer(d + t).storeBytes(of: v, as: SIMD8<T>.self)
            t += 8
        }
        while t < n {
            d[t] += s[t]
            t += 1
        }
    }

    /// z[r, :] += bias, then ReLU when asked.
    static func biasReLU<T: AgoraScalar>(_ z: UnsafeMutablePointer<T>, rows: Int, cols: Int, bias: UnsafePointer<T>, relu: Bool) {
        for r in 0..<rows {
            let row = z + r * cols
            for c in 0..<cols {
                let v = row[c] + bias[c]
                row[c] = relu && v < 0 ? 0 : v
            }
        }
    }

    /// Bias, ReLU and the 2 x 2 max-pool of stride 2 in one pass over the convolution's output `y`
    /// (channels last, without bias): `argmax` gets the index in `y` of each window's maximum (the
    /// first of equal values), or -1 when the maximum is not positive (ReLU'(0) = 0: no gradient
    /// flows back). A NaN stays NaN.
    static func biasReLUPool<T: AgoraScalar>(
        _ y: UnsafePointer<T>, _ images: Int, _ c: CNNPlan.Conv, bias: UnsafePointer<T>, into p: UnsafeMutablePointer<T>,
        argmax: UnsafeMutablePointer<Int32>
    ) {
        var q = 0
        let right = c.o, down = c.wc * c.o
        for b in 0..<images {
            for py in 0..<c.hp {
                for px in 0..<c.wp {
                    let corner = ((b * c.hc + 2 * py) * c.wc + 2 * px) * c.o
                    for o in 0..<c.o {
                        let a = corner + o
                        var best = a, v = y[a]
                        if y[a + right] > v { (best, v) = (a + right, y[a + right]) }
                        if y[a + down] > v { (best, v) = (a + down, y[a + down]) }
                        if y[a + down + right] > v { (best, v) = (a + down + right, y[a + down + right]) }
                        let z = v + bias[o]
                        p[q] = z < 0 ? 0 : z
                        argmax[q] = z > 0 || z.isNaN ? Int32(best) : -1
                        q += 1
                    }
                }
            }
        }
    }

    /// out[c] += sum_r m[r, c].
    static func columnSums<T: AgoraScalar>(_ m: UnsafePointer<T>, rows: Int, cols: Int, into out: UnsafeMutablePointer<T>) {
        for r in 0..<rows {
            let row = m + r * cols
            for c in 0..<cols { out[c] += row[c] }
        }
    }
}
