// Package childproc starts helper processes (test servers, the benchmark's
// ceiling server) so that they do not outlive the process that started
// them: on Linux the kernel ends them when their parent dies, however it
// dies.
package childproc
