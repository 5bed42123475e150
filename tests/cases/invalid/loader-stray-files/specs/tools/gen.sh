#!/bin/sh
echo gen
