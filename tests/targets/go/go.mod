module hound/gotarget

go 1.19
