// pulumi-resource-kubernetes from github.com/pulumi/pulumi-kubernetes/provider/v4.
//
// Upstream's main embeds schema-embed.json and terraform-mapping-embed.json, which its `go generate`
// writes from cmd/pulumi-resource-kubernetes/{schema,terraform-mapping}.json; those are not in the
// module's package. e2e/build.sh copies the two source files from the module cache beside this file at
// build time (they are not committed), and this main sets the schema's version the way generate.go does.
package main

import (
	_ "embed"
	"encoding/json"
	"log"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var schemaJSON []byte

//go:embed terraform-mapping.json
var terraformMapping []byte

func main() {
	var spec map[string]any
	if err := json.Unmarshal(schemaJSON, &spec); err != nil {
		log.Fatalf("cannot deserialize schema: %v", err)
	}
	spec["version"] = strings.TrimPrefix(version.Version, "v")
	versioned, err := json.Marshal(spec)
	if err != nil {
		log.Fatalf("cannot reserialize schema: %v", err)
	}
	var mapping any
	if err := json.Unmarshal(terraformMapping, &mapping); err != nil {
		log.Fatalf("cannot deserialize terraform mapping: %v", err)
	}
	compact, err := json.Marshal(mapping)
	if err != nil {
		log.Fatalf("cannot reserialize terraform mapping: %v", err)
	}
	provider.Serve("kubernetes", version.Version, versioned, compact)
}
