extension Kernels {
    /// FNV-1a (64-bit, lowercase hex) of the matrix's bit patterns in row-major order: two
    /// matrices have the same digest exactly when (up to hash collisions) every entry has the same
    /// bits. Used to show that runs on different back-ends (in process, MPI at any rank count)
    /// produce bit-identical parameters without writing the parameters out.
    public static func bitDigest(_ m: Matrix<Float>) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in m.storage {
            var b = v.bitPattern
            for _ in 0..<4 {
                h = (h ^ UInt64(b & 0xFF)) &* 0x100_0000_01b3
                b >>= 8
            }
        }
        return String(h, radix: 16)
    }
}
