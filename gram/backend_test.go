package gram

// The benchmarks run on the build's BLAS backend, which package eigen
// registers (OpenBLAS under -tags openblas).
import _ "github.com/vivit-go/vivit/eigen"
