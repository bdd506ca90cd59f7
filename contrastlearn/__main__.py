"""Command line: ``python -m contrastlearn demo [--data diffraction|digits] [--epochs N]``."""

import argparse
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
    args = parser.parse_args(argv)

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


if __name__ == "__main__":
    main()
