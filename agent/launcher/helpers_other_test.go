//go:build !linux

package launcher

func removeTestCgroupParent() {}
