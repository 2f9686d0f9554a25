// A Redpanda Connect binary with only the plugins modelstack's async/batch gateway and queue consumer use:
// pure (processors, bloblang, switch/reject outputs), io (http_server input, http processor) and aws
// (aws_sqs input/output, aws_s3 cache). Built from the module at the pin in e2e/versions.env.
package main

import (
	"context"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/redpanda-data/connect/v4/public/components/aws"
	_ "github.com/redpanda-data/connect/v4/public/components/io"
	_ "github.com/redpanda-data/connect/v4/public/components/pure"
)

var Version = "dev"

func main() {
	service.RunCLI(context.Background(), service.CLIOptSetVersion(Version, ""),
		service.CLIOptSetBinaryName("redpanda-connect"), service.CLIOptSetProductName("Redpanda Connect"))
}
