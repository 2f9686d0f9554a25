package main

// The Node.js side of the e2e language host (run as pulumi-language-nodejs). Upstream's host, module
// github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3, is not served by the Go module proxy either.
// Run starts the program through @pulumi/pulumi's own cmd/run (from the program's node_modules, as upstream
// does); GeneratePackage is pkg/v3's Node.js SDK generator, as upstream's. Not supported: dependency
// installation, Link, policy packs, plugins written in Node.js.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	nodejsgen "github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

type nodeHost struct {
	host
}

func (h *nodeHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	dir := req.GetPwd()
	entry := "."
	if info := req.GetInfo(); info != nil {
		if info.GetProgramDirectory() != "" {
			dir = info.GetProgramDirectory()
		}
		if info.GetEntryPoint() != "" {
			entry = info.GetEntryPoint()
		}
	}
	// @pulumi/pulumi/cmd/run, resolved from the program directory like any require().
	out, err := exec.CommandContext(ctx, "node", "-e",
		"console.log(require.resolve('@pulumi/pulumi/cmd/run'))").Output()
	if err != nil {
		return &pulumirpc.RunResponse{Error: "cannot find @pulumi/pulumi in the program's node_modules: " + err.Error()}, nil
	}
	runJS := strings.TrimSpace(string(out))
	args := []string{runJS, "--monitor", req.GetMonitorAddress(), "--engine", h.engineAddr(),
		"--project", req.GetProject(), "--stack", req.GetStack(), "--pwd", req.GetPwd(),
		"--parallel", strconv.Itoa(int(req.GetParallel()))}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	if org := req.GetOrganization(); org != "" {
		args = append(args, "--organization", org)
	}
	if info := req.GetInfo(); info != nil && info.GetRootDirectory() != "" {
		args = append(args, "--root-directory", info.GetRootDirectory())
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)
	return runProgram(ctx, req, "node", dir, args)
}

func (h *nodeHost) GeneratePackage(_ context.Context, req *pulumirpc.GeneratePackageRequest) (*pulumirpc.GeneratePackageResponse, error) {
	loader, err := schema.NewLoaderClient(req.GetLoaderTarget())
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(req.GetSchema()), &spec); err != nil {
		return nil, err
	}
	pkg, diags, err := schema.BindSpec(spec, loader, schema.ValidationOptions{AllowDanglingReferences: true})
	if err != nil {
		return nil, err
	}
	if diags.HasErrors() {
		return nil, diags
	}
	files, err := nodejsgen.GeneratePackage("pulumi-language-nodejs", pkg, req.GetExtraFiles(),
		req.GetLocalDependencies(), req.GetLocal(), loader)
	if err != nil {
		return nil, err
	}
	for name, data := range files {
		p := filepath.Join(req.GetDirectory(), name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.GeneratePackageResponse{}, nil
}

func (h *nodeHost) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	return &pulumirpc.AboutResponse{Executable: "node", Metadata: map[string]string{"host": "modelstack-e2e"}}, nil
}
