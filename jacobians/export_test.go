package jacobians

// SetFoldSteps turns the folding of elementwise layers into BatchNorm's
// pass on or off and returns the previous setting.
func SetFoldSteps(on bool) bool {
	old := foldSteps
	foldSteps = on
	return old
}
