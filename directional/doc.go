// Package directional computes per-sample first- and second-order
// directional derivatives along GGN eigenvectors from Gram-sized products.
//
// With G = V Vᵀ, Ĝ = VᵀV = Ũ Λ Ũᵀ and e_k = V ũ_k/√λ_k, the derivatives of
// the unnormalised per-sample loss ℓ_n along e_k are
//
//	γ_nk = e_kᵀ ∇ℓ_n   = (Vᵀ∇ℓ_n)·ũ_k / √λ_k
//	λ_nk = e_kᵀ G_n e_k = ‖X_nᵀ V ũ_k‖² / (w_X λ_k)
//
// where X_n are the factor columns of sample n in a factor X = √w_X [J_nᵀ S_n]
// (X = V when sample n is one of V's samples, and then
// X_nᵀVũ_k = λ_k ũ_k[n], so λ_nk = λ_k ‖ũ_k[n]‖²/w). No vector in parameter
// space is formed: the inputs are the cross Gram Vᵀ∇ℓ (N × cols), or XᵀV,
// and the Gram eigenvectors. Eigenvalues passed in must be positive (drop
// numerically zero ones first).
package directional
