#!/usr/bin/env node
// The bpfkit command line.
import { Command } from 'commander'
import { libbpfVersion, version } from '../version'
import { addGenCommand } from './gen'
import { addBtfCommand } from './btf'
import { addDoctorCommand } from './doctor'
import { addBuildCommand } from './build'
import { addServeCommand } from './serve'
import { addPsCommand } from './ps'

export function createProgram(): Command {
  const program = new Command('bpfkit')
    .description('Load, attach and inspect eBPF programs from Node.js')
    .version(`${version} (libbpf ${libbpfVersion})`, '-v, --version', 'print the bpfkit and libbpf versions')
    .showHelpAfterError()
  addGenCommand(program)
  addBtfCommand(program)
  addDoctorCommand(program)
  addBuildCommand(program)
  addServeCommand(program)
  addPsCommand(program)
  return program
}

if (require.main === module) {
  createProgram().parse(process.argv)
}
