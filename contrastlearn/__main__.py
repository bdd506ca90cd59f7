"""Command line of contrastlearn.

``python -m contrastlearn demo [--data diffraction|digits] [--epochs N]``;
``python -m contrastlearn fit CONFIG [key=value ...] [--resume | --overwrite]``;
``python -m contrastlearn transform --model MODEL --data FILE_OR_CONFIG --output FILE``;
``python -m contrastlearn search CONFIG [key=value ...]``. See :mod:`contrastlearn.cli`.
"""

import argparse
import sys
import time


def main(argv=None):
    """Run the command line interface.

    Parameters
    ----------
    argv : list of str or None
        Arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(prog="contrastlearn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="pretrain on built-in data on the CPU and compare embeddings"
    )
    demo.add_argument(
        "--data",
        choices=["diffraction", "digits"],
        default="diffraction",
        help="simulated diffraction patterns with CPLR vs CLR vs PCA (default), "
        "or sklearn's digits with CLR vs raw pixels vs PCA",
    )
    demo.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="pretraining epochs (default: 10 for diffraction, 30 for digits)",
    )
    demo.add_argument(
        "--n-samples", type=int, default=2000, help="simulated diffraction patterns (default: 2000)"
    )
    demo.add_argument(
        "--image-size",
        type=int,
        default=64,
        help="side of the simulated patterns in pixels (default: 64)",
    )
    _add_config_commands(commands)
    args = parser.parse_args(argv)
    if args.command != "demo":
        return _run_config_command(args)

    from .demo import run_diffraction_demo, run_digits_demo

    start = time.perf_counter()
    if args.data == "digits":
        epochs = args.epochs or 30
        print(f"contrastlearn demo: CLR on sklearn digits (1797 images, 8x8), {epochs} epochs")
        table = run_digits_demo(max_epochs=epochs)
        formatters = {"fit s": "{:.1f}".format}
    else:
        epochs = args.epochs or 10
        print(
            f"contrastlearn demo: CPLR vs CLR (recorded, polar images) vs PCA on "
            f"{args.n_samples} simulated diffraction patterns ({args.image_size}x"
            f"{args.image_size}, empty shots dropped), {epochs} epochs; the reference "
            "protocol (per-label perceptron, 5-fold CV; overlap of 1 % neighbours)"
        )
        table = run_diffraction_demo(
            n_samples=args.n_samples, image_size=args.image_size, max_epochs=epochs, verbose=2
        )
        formatters = {"Fit seconds": "{:.0f}".format, "Temperature": "{:g}".format}
    print()
    print(
        table.to_string(
            formatters=formatters, float_format="{:.3f}".format, index=args.data == "digits"
        )
    )
    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s")


def _add_config_commands(commands):
    overrides = {
        "nargs": "*",
        "metavar": "key=value",
        "help": "dotted overrides of the config, values read as TOML literals "
        "(model.temperature=0.2, data.params.n_samples=200)",
    }
    fit = commands.add_parser("fit", help="fit the estimator a config file describes")
    fit.add_argument("config", help="TOML (or YAML, with PyYAML) config file")
    fit.add_argument("overrides", **overrides)
    mode = fit.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="go on from the checkpoint's last complete epoch (also with a larger "
        "model.max_epochs)",
    )
    mode.add_argument(
        "--overwrite",
        action="store_true",
        help="delete the checkpoint and replace the outputs of an earlier fit",
    )
    transform = commands.add_parser("transform", help="embed images with a saved model")
    transform.add_argument("--model", required=True, help="model.joblib written by fit/search")
    transform.add_argument(
        "--data", required=True, help="an HDF5/CXI file, or a config whose [data] is used"
    )
    transform.add_argument("--dataset", help="image stack inside the HDF5 file")
    transform.add_argument("--output", required=True, help="HDF5 file to write")
    transform.add_argument("--overwrite", action="store_true", help="replace --output")
    search = commands.add_parser("search", help="grid-search the parameters of a config's model")
    search.add_argument("config", help="config file with a [search] table")
    search.add_argument("overrides", **overrides)
    search.add_argument("--overwrite", action="store_true", help="replace an earlier search.csv")


def _run_config_command(args):
    from . import cli

    try:
        if args.command == "transform":
            cli.run_transform(
                args.model, args.data, args.output, dataset=args.dataset, overwrite=args.overwrite
            )
            return 0
        config = cli.load_config(args.config, args.overrides)
        if args.command == "fit":
            cli.run_fit(config, resume=args.resume, overwrite=args.overwrite)
        else:
            cli.run_search(config, overwrite=args.overwrite)
    except (ValueError, TypeError, OSError) as error:
        message = str(error).replace("\n", " ")
        print(f"contrastlearn {args.command}: error: {message}", file=sys.stderr)
        sys.exit(2)
    return 0


if __name__ == "__main__":
    main()
