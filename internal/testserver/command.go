package testserver

import (
	"context"
	"os"
	"os/exec"
)

// Command returns a command running the built idp binary with args in the
// deployment's environment (its database, Redis, prefix and secrets,
// production mode, migrations on, the tests' cheap hashing), followed by
// env, which overrides it. It is for one-off jobs on the deployment (idp
// keys reseal) and for a serve that is expected to refuse to start.
func (sh *Shared) Command(ctx context.Context, env []string, args ...string) (*exec.Cmd, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(),
		"IDP_DATABASE_URL="+sh.DatabaseURL,
		"IDP_REDIS_URL="+sh.RedisURL,
		"IDP_REDIS_PREFIX="+sh.RedisPrefix,
		"IDP_SECRET_KEY="+sh.SecretKey,
		"IDP_ADMIN_TOKEN="+sh.AdminToken,
		"IDP_MIGRATE=true",
		"IDP_DEV=false",
		"IDP_LOG_LEVEL=warn",
		"IDP_ARGON2_MEMORY_KIB=7168",
		"IDP_ARGON2_TIME=1",
	)
	cmd.Env = append(cmd.Env, env...)
	return cmd, nil
}
