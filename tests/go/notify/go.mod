module hupsafe.test/notify

go 1.19
